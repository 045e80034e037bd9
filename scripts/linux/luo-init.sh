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
  for dev in /dev/sda1 /dev/sda /dev/vda1; do
    [ -b $dev ] && mount -t vfat -o ro $dev /esp 2>/dev/null && break
  done
  say "reboot uptime=$(cut -d' ' -f1 /proc/uptime)"
  /khotool reboot --esp /esp --boot-entry "$(arg next)" $(arg reboot-args | tr ',' ' ')
  fail "khotool reboot rc=$?"
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
