#!/bin/busybox sh
# /init of the LUO chain initramfs (scripts/linux/build-luo-initramfs): runs
# a two-stage LUO selftest of the kernel (tools/testing/selftests/liveupdate/,
# built by scripts/linux/build-luo-selftests) across the firmware path
# instead of the suite's do_kexec.sh:
#
#   luochain.stage=1  run `TEST --stage 1` for each test of luochain.tests=
#                     (each leaves a daemon holding its sessions), and with
#                     luochain.memfd=MiB,FILES preserve that many MiB of
#                     memfds filled with a position-derived pattern; then
#                     `khotool reboot --boot-entry luochain.next=` (kexec
#                     into the handoff image, warm reset, OVMF, khoboot);
#   luochain.stage=2  run `TEST --stage 2` for each test (and verify the
#                     memfds) and power off, which ends QEMU.
# luochain.reboot-args= adds words to khotool reboot ("," for blanks).
# luochain.first-try=ARGS  stage 1 first runs `khotool reboot ARGS`, which
#                   must refuse: its outcome and the variables it must not
#                   have left are reported, then the real reboot follows
#                   (the refusal lost nothing).
# luochain.dry-run=1  stage 1 first runs `khotool reboot --dry-run` and
#                   reports that it changed nothing.
# luochain.via=kexec  stage 1 ends with the kernel's own kexec straight into
#                   entry luochain.next= (the reference: no firmware).
#   luochain.stage=refuse   only `khotool reboot`, which must refuse; report.
#   luochain.stage=handoff-plain   kexec the handoff image on this kernel
#                   (no KHO): it must refuse and reset; the next boot
#                   reports what khoboot found (a marker variable tells).
# Every line starts with "LUO_CHAIN: "; a failure says so and powers off:
# the chain never loops through the firmware.
/bin/busybox mkdir -p /bin /dev /proc /sys /tmp /esp
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null

say() { echo "LUO_CHAIN: $*"; }
EFIVARS=/sys/firmware/efi/efivars
MARK=$EFIVARS/LuoChainMark-8a2c6f3e-5d41-4b7a-9e20-746b686f7031
# Which of the variables khotool reboot may set exist now.
leftovers() {
  out=""
  for v in BootNext LoaderEntryOneShot KhoHandover; do
    if ls $EFIVARS | grep -q "^$v-"; then out="$out $v=present"; else out="$out $v=absent"; fi
  done
  echo "${out# }"
}
mount_esp() {
  for dev in /dev/sda1 /dev/sda /dev/vda1; do
    [ -b $dev ] && mount -t vfat -o ro $dev /esp 2>/dev/null && return 0
  done
  return 1
}
# Key K of boot entry E on the ESP (linux, initrd, options).
entry_key() { sed -n "s/^$2 *//p" /esp/loader/entries/$1.conf | head -n1; }
end() { sync; poweroff -f; sleep 5; }
fail() { say "fail $*"; end; }
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^luochain\.$1=//p" | tail -n1; }

stage=$(arg stage)
tests=$(arg tests | tr ',' ' ')
memfd=$(arg memfd)
say "stage $stage tests=$tests memfd=$memfd uptime=$(cut -d' ' -f1 /proc/uptime)"

if [ "$stage" = 1 ]; then
  for t in $tests; do
    say "stage1 start $t"
    /luo/$t --stage 1 || fail "stage1 $t rc=$?"
    say "stage1 done $t"
  done
  if [ -n "$memfd" ]; then
    /luo-memfd fill "${memfd%,*}" "${memfd#*,}" || fail "luo-memfd fill rc=$?"
  fi
  mount_esp || say "no ESP found"
  first=$(arg first-try | tr ',' ' ')
  if [ -n "$first" ]; then
    /khotool reboot $first
    say "first-try rc=$? $(leftovers)"
  fi
  if [ "$(arg dry-run)" = 1 ]; then
    /khotool reboot --dry-run --esp /esp --boot-entry "$(arg next)"
    say "dry-run rc=$? $(leftovers)"
  fi
  say "reboot uptime=$(cut -d' ' -f1 /proc/uptime)"
  if [ "$(arg via)" = kexec ]; then
    next=$(arg next)
    opts=$(entry_key $next options)
    /kexec-file "/esp$(entry_key $next linux)" "/esp$(entry_key $next initrd)" "$opts"
    fail "kexec-file rc=$?"
  fi
  /khotool reboot --esp /esp --boot-entry "$(arg next)" $(arg reboot-args | tr ',' ' ')
  fail "khotool reboot rc=$?"
elif [ "$stage" = refuse ]; then
  mount_esp
  /khotool reboot --esp /esp $(arg reboot-args | tr ',' ' ')
  say "refused rc=$? $(leftovers)"
  end
elif [ "$stage" = handoff-plain ]; then
  if [ -e $MARK ]; then
    say "after-handoff $(leftovers)"
    end
  fi
  printf '\007\000\000\000\001' > $MARK || fail "cannot write the marker variable"
  /kexec-file /usr/lib/khoboot/khoboot-handoff.bzImage - "khoboot.handoff.manifest=full"
  fail "kexec-file rc=$?"
elif [ "$stage" = 2 ]; then
  say "stage2 begin uptime=$(cut -d' ' -f1 /proc/uptime)"
  for t in $tests; do
    say "stage2 start $t"
    /luo/$t --stage 2
    rc=$?
    if [ $rc = 0 ]; then say "stage2 pass $t"; else say "stage2 fail $t rc=$rc"; fi
  done
  if [ -n "$memfd" ]; then
    /luo-memfd verify || say "stage2 fail luo-memfd rc=$?"
  fi
  say "done"
  end
else
  fail "no luochain.stage= on the command line"
fi
