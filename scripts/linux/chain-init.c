/*
 * chain-init: /init of the initramfs for the real-Linux boot chains through
 * the firmware (scripts/scenarios/linux_kho.py, scripts/measure-ovmf-ram).
 * Built static by scripts/linux/build.mk; packed with /khotool by
 * scripts/linux/build-chain-initramfs.
 *
 * One image serves every hop; what a boot does depends on the command line
 * and on a UEFI variable the first hop leaves (KhoChainHop, below), so the
 * same boot entry can run Linux A and Linux B:
 *
 *   first hop (no KhoChainHop variable), per khochain.hop1=
 *     export  wait until test_kho has preserved its folios, run
 *             `khotool export` (live KHO state -> KhoHandover variable),
 *             set KhoChainHop, reboot warm (LINUX_REBOOT_CMD_RESTART; the
 *             entry passes reboot=warm); if the export fails, say whether
 *             a descriptor variable exists and power off
 *             (khochain.stale=1 first plants a stale descriptor)
 *     fill    fill all free RAM with a pattern unique to each page, set
 *             KhoChainHop, reboot warm (scripts/measure-ovmf-ram diffs RAM
 *             across the reset)
 *     none    set KhoChainHop and reboot warm
 *   with khochain.next=ENTRY, the first hop also makes the next boot (and
 *   only it) start khoboot with the boot entry ENTRY: a Boot#### option
 *   copied from the current one with ENTRY as its load options, named in
 *   BootNext (UEFI 2.10 section 3.1.2; khoboot takes a bare word of its
 *   load options as the entry id), so one QEMU run can chain different
 *   kernels;
 *   later hops, or khochain.role=consumer
 *             report what the kernel received (debugfs kho/in), with
 *             khochain.status=1 run `khotool status --json` (what khoboot
 *             recorded in KhoBootStatus), and power off, which ends QEMU;
 *   with khochain.hops=N (default 2), hops 2..N-1 report what they
 *   received, then export the state this kernel preserves in its turn
 *   (khotool export finds its root FDT by its sub-FDTs: a kernel booted
 *   with KHO state has no debugfs kho/out/fdt) and reboot warm again: a
 *   chain of N kernels, the hop number kept in KhoChainHop.
 *
 * Every line starts with "LINUX_INIT: " (a protocol tag of the scenarios).
 * Any failure prints "LINUX_INIT: fail ..." and powers off: a chain never
 * loops through the firmware.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/reboot.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* khoboot's variable names and vendor GUID as C string literals, generated
 * from abi/khoboot_vendor.h by scripts/linux/build.mk. */
#include "khoboot_vendor_c.h"

#define KHO_DBG "/sys/kernel/debug/kho"
#define EFIVARS "/sys/firmware/efi/efivars"
/* A GUID of the test harness, not khoboot's: the loader never reads it. */
#define HOP_VAR EFIVARS "/KhoChainHop-6c696e75-7863-4841-494e-000000000001"
/* khoboot's descriptor variable (abi/handover_descriptor.h). */
#define DESC_VAR EFIVARS "/" KHOBOOT_DESCRIPTOR_VARIABLE "-" KHOBOOT_VENDOR_GUID_TEXT
#define KHOTOOL "/khotool"
#define GLOBAL_GUID "8be4df61-93ca-11d2-aa0d-00e098032b8c" /* EFI_GLOBAL_VARIABLE */
#define NEXT_OPTION 0x4b48 /* Boot4B48 ("KH"): the option khochain.next writes */

static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "LINUX_INIT: ");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	buf[n++] = '\n';
	(void)!write(1, buf, n);
}

static double uptime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void power_off(void)
{
	say("power-off uptime=%.2f", uptime());
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static void fail(const char *what)
{
	say("fail %s: %s", what, errno ? strerror(errno) : "failed");
	power_off();
}

static long slurp(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (len < cap) {
		ssize_t r = read(fd, buf + len, cap - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += r;
	}
	close(fd);
	return len;
}

static void do_mount(const char *src, const char *dst, const char *type, int required)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, 0, NULL) && errno != EBUSY) {
		if (required)
			fail(dst);
		say("note mount %s: %s", dst, strerror(errno));
	}
}

/* Value of "key=" in the command line, or NULL. */
static const char *param(const char *cmdline, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	while ((p = strstr(p, key))) {
		if ((p == cmdline || p[-1] == ' ') && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, " \n");

			if (n >= cap)
				n = cap - 1;
			memcpy(out, p + klen + 1, n);
			out[n] = 0;
			return out;
		}
		p += klen;
	}
	return NULL;
}

/* One write() of attributes + data, as efivarfs requires. */
/* efivarfs makes a variable's file immutable unless its GUID is on the
 * kernel's list of variables safe to change (fs/efivarfs/inode.c): a
 * later hop clears that before it rewrites KhoChainHop. */
static void make_writable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int flags;

	if (fd < 0)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
		flags &= ~FS_IMMUTABLE_FL;
		(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
}

static int set_hop_variable(uint8_t hop)
{
	uint8_t buf[5] = { 0x07, 0, 0, 0, hop }; /* NV | BS | RT, then data */
	int fd;
	ssize_t n;

	make_writable(HOP_VAR);
	fd = open(HOP_VAR, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	n = write(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)sizeof(buf) ? 0 : -1;
}

static long read_variable(const char *name, uint8_t *buf, size_t cap)
{
	char path[256];

	snprintf(path, sizeof(path), EFIVARS "/%s-" GLOBAL_GUID, name);
	return slurp(path, (char *)buf, cap);
}

static int write_variable(const char *name, const uint8_t *data, size_t len)
{
	uint8_t buf[4096 + 4] = { 0x07, 0, 0, 0 }; /* NV | BS | RT */
	char path[256];
	ssize_t n;
	int fd;

	if (len > 4096) {
		errno = E2BIG;
		return -1;
	}
	memcpy(buf + 4, data, len);
	snprintf(path, sizeof(path), EFIVARS "/%s-" GLOBAL_GUID, name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	n = write(fd, buf, len + 4);
	close(fd);
	return n == (ssize_t)(len + 4) ? 0 : -1;
}

/* Boot4B48 = the current boot option's device path (the ESP holding
 * khoboot), description "khochain ENTRY", optional data ENTRY in UCS-2;
 * BootNext = 0x4B48. EFI_LOAD_OPTION: u32 Attributes, u16
 * FilePathListLength, CHAR16 Description[], device path, optional data. */
static void set_boot_next(const char *entry)
{
	uint8_t cur[4 + 2], opt[4096 + 4], out[4096];
	char name[16], desc[64];
	long n;
	size_t d, pos = 0;
	uint16_t fpl, next = NEXT_OPTION;

	n = read_variable("BootCurrent", cur, sizeof(cur));
	if (n != 6) {
		errno = n < 0 ? errno : EINVAL;
		fail("read BootCurrent");
	}
	snprintf(name, sizeof(name), "Boot%04X", cur[4] | cur[5] << 8);
	n = read_variable(name, opt, sizeof(opt));
	if (n < 4 + 6 + 2) {
		errno = n < 0 ? errno : EINVAL;
		fail("read the current Boot#### option");
	}
	memcpy(&fpl, opt + 4 + 4, 2);
	for (d = 4 + 6; d + 1 < (size_t)n && (opt[d] | opt[d + 1]); d += 2)
		;
	d += 2; /* the description's NUL */
	if (d + fpl > (size_t)n) {
		errno = EINVAL;
		fail("parse the current Boot#### option");
	}
	snprintf(desc, sizeof(desc), "khochain %s", entry);
	memcpy(out, "\x01\0\0\0", 4); /* LOAD_OPTION_ACTIVE */
	memcpy(out + 4, &fpl, 2);
	pos = 6;
	for (const char *c = desc;; c++) {
		out[pos++] = *c;
		out[pos++] = 0;
		if (!*c)
			break;
	}
	if (pos + fpl + 2 * strlen(entry) + 2 > sizeof(out)) {
		errno = E2BIG;
		fail("build Boot4B48");
	}
	memcpy(out + pos, opt + d, fpl);
	pos += fpl;
	for (const char *c = entry;; c++) {
		out[pos++] = *c;
		out[pos++] = 0;
		if (!*c)
			break;
	}
	snprintf(name, sizeof(name), "Boot%04X", NEXT_OPTION);
	if (write_variable(name, out, pos))
		fail("write Boot4B48");
	if (write_variable("BootNext", (uint8_t *)&next, 2))
		fail("write BootNext");
	say("boot-next entry=%s option=Boot%04X", entry, NEXT_OPTION);
}

/* The hop this boot is: 1 without KhoChainHop, else one past its value. */
static int current_hop(void)
{
	uint8_t buf[5];

	return slurp(HOP_VAR, (char *)buf, sizeof(buf)) == (long)sizeof(buf) ? buf[4] + 1 : 1;
}

static void reboot_warm(const char *next_entry)
{
	if (next_entry)
		set_boot_next(next_entry);

	if (set_hop_variable((uint8_t)current_hop()))
		fail("write " HOP_VAR);
	say("reboot warm uptime=%.2f", uptime());
	sync();
	syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_RESTART, NULL);
	fail("reboot(LINUX_REBOOT_CMD_RESTART)");
}

/* test_kho preserves its folios from an initcall and then publishes its
 * sub-tree (lib/test_kho.c kho_test_init() -> kho_add_subtree()), which
 * appears as debugfs kho/out/sub_fdts/kho_test. */
static void wait_for_test_kho(int seconds)
{
	struct stat st;
	double start = uptime();

	/* Without kho=on there is no kho/out at all (kho_init() returns
	 * early): nothing to wait for, and khotool export reports it. */
	if (stat(KHO_DBG "/out", &st) != 0) {
		say("kho_test skipped: no " KHO_DBG "/out");
		return;
	}

	while (stat(KHO_DBG "/out/sub_fdts/kho_test", &st) != 0) {
		if (uptime() - start > seconds) {
			errno = ENOENT;
			fail("test_kho never published kho/out/sub_fdts/kho_test (kho=on? CONFIG_TEST_KEXEC_HANDOVER?)");
		}
		usleep(100 * 1000);
	}
	say("kho_test preserved uptime=%.2f", uptime());
}

/* khochain.stale=1: a leftover descriptor from an earlier boot, which a
 * failed export must not leave behind. */
static void plant_stale_descriptor(void)
{
	uint8_t buf[4 + 8] = { 0x07, 0, 0, 0, 'K', 'H', 'O', 'B', 'D', 'E', 'S', 'C' };
	int fd = open(DESC_VAR, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		fail("plant a stale " DESC_VAR);
	close(fd);
	say("stale descriptor planted");
}

/* Runs /khotool with `args` (null-terminated, args[0] the command),
 * relaying each output line as "LINUX_INIT: khotool <line>"; says
 * "<args[0]> exit=N ms=M" and returns the exit status. */
static int run_khotool(char *const args[])
{
	int pipefd[2];
	pid_t pid;
	int status;
	FILE *out;
	char line[512];
	double start = uptime();

	if (pipe(pipefd))
		fail("pipe");
	pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		char *argv[8] = { KHOTOOL };

		for (int i = 0; args[i] && i < 6; i++)
			argv[i + 1] = args[i];
		execv(KHOTOOL, argv);
		fprintf(stderr, "khotool: error io: exec " KHOTOOL ": %s\n", strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	while (out && fgets(line, sizeof(line), out)) {
		line[strcspn(line, "\n")] = 0;
		say("khotool %s", line);
	}
	if (out)
		fclose(out);
	if (waitpid(pid, &status, 0) < 0)
		fail("waitpid");
	say("%s exit=%d ms=%.0f", args[0], WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
	    (uptime() - start) * 1000);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Fills all but `keep_mb` of the available memory with bytes no firmware
 * writes by accident: every 8-byte word holds its own virtual address
 * mixed with a constant, so every page is distinct. The pages stay owned
 * by this process (init never exits) until the reset. */
static void fill_free_ram(long keep_mb)
{
	char buf[4096];
	long avail_kb = -1;
	long n = slurp("/proc/meminfo", buf, sizeof(buf) - 1);
	const char *p;
	size_t chunk = 64ul << 20, total = 0, want;

	if (n > 0) {
		buf[n] = 0;
		p = strstr(buf, "MemAvailable:");
		if (p)
			avail_kb = strtol(p + 13, NULL, 10);
	}
	if (avail_kb < 0)
		fail("MemAvailable in /proc/meminfo");
	want = avail_kb > keep_mb * 1024 ? (size_t)(avail_kb - keep_mb * 1024) << 10 : 0;
	while (total + chunk <= want) {
		uint64_t *m = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

		if (m == MAP_FAILED)
			break;
		for (size_t i = 0; i < chunk / 8; i++)
			m[i] = ((uint64_t)(uintptr_t)&m[i] * 0x9e3779b97f4a7c15ull) ^ 0x4b484f4246494c4cull;
		total += chunk;
	}
	say("fill mb=%zu available_mb=%ld uptime=%.2f", total >> 20, avail_kb >> 10, uptime());
}

static void report_consumer(void)
{
	struct stat st;
	char names[256] = "";
	DIR *d;
	struct dirent *e;
	char fdt[8];
	long n;

	if (stat(KHO_DBG "/in", &st) != 0) {
		say("consumer kho_in=no");
		return;
	}
	d = opendir(KHO_DBG "/in/sub_fdts");
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (names[0])
			strncat(names, ",", sizeof(names) - strlen(names) - 1);
		strncat(names, e->d_name, sizeof(names) - strlen(names) - 1);
	}
	if (d)
		closedir(d);
	n = slurp(KHO_DBG "/in/fdt", fdt, sizeof(fdt));
	say("consumer kho_in=yes fdt_magic=%s subtrees=%s",
	    n == 8 && (uint8_t)fdt[0] == 0xd0 && (uint8_t)fdt[1] == 0x0d ? "ok" : "bad",
	    names[0] ? names : "none");
}

int main(void)
{
	static char cmdline[4096];
	char role[32], hop1[32], wait_s[16], keep[16], next[64], stale[8], status_opt[8], hops_opt[8];
	const char *next_entry;
	struct stat st;
	int consumer, hop, hops;
	long n;
	int fd;

	do_mount("devtmpfs", "/dev", "devtmpfs", 1);
	fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	do_mount("proc", "/proc", "proc", 1);
	do_mount("sysfs", "/sys", "sysfs", 1);
	do_mount("debugfs", "/sys/kernel/debug", "debugfs", 1);
	if (stat("/sys/firmware/efi", &st) == 0)
		do_mount("efivarfs", EFIVARS, "efivarfs", 0);

	n = slurp("/proc/cmdline", cmdline, sizeof(cmdline) - 1);
	if (n < 0)
		fail("/proc/cmdline");
	cmdline[n] = 0;
	cmdline[strcspn(cmdline, "\n")] = 0;
	if (!param(cmdline, "khochain.role", role, sizeof(role)))
		strcpy(role, "auto");
	if (!param(cmdline, "khochain.hop1", hop1, sizeof(hop1)))
		strcpy(hop1, "export");
	if (!param(cmdline, "khochain.wait", wait_s, sizeof(wait_s)))
		strcpy(wait_s, "30");
	if (!param(cmdline, "khochain.keep-mb", keep, sizeof(keep)))
		strcpy(keep, "48");
	next_entry = param(cmdline, "khochain.next", next, sizeof(next));
	hops = param(cmdline, "khochain.hops", hops_opt, sizeof(hops_opt)) ? atoi(hops_opt) : 2;

	consumer = !strcmp(role, "consumer") || stat(HOP_VAR, &st) == 0;
	say("start role=%s hop1=%s kho_in=%s efi=%s uptime=%.2f",
	    consumer ? "consumer" : "first", hop1, stat(KHO_DBG "/in", &st) ? "no" : "yes",
	    stat(EFIVARS, &st) ? "no" : "yes", uptime());
	hop = current_hop();
	if (consumer && hop < hops) {
		report_consumer();
		say("hop %d of %d: export again", hop, hops);
		if (run_khotool((char *[]){ "export", "--verbose", NULL }) != 0)
			fail("khotool export (a middle hop)");
		reboot_warm(NULL);
	}
	if (consumer) {
		report_consumer();
		/* khochain.status=1: what khoboot recorded for this boot
		 * (scripts/scenarios/status.py compares it with its serial log). */
		if (param(cmdline, "khochain.status", status_opt, sizeof(status_opt)) && !strcmp(status_opt, "1"))
			run_khotool((char *[]){ "status", "--json", NULL });
		say("done uptime=%.2f", uptime());
		power_off();
	}
	if (stat("/sys/firmware/efi", &st) != 0) {
		errno = ENOENT;
		fail("/sys/firmware/efi (not booted through UEFI: no variables to hand over with)");
	}
	if (!strcmp(hop1, "fill")) {
		fill_free_ram(atol(keep));
		reboot_warm(next_entry);
	}
	if (!strcmp(hop1, "none"))
		reboot_warm(next_entry);
	if (strcmp(hop1, "export")) {
		errno = EINVAL;
		fail("khochain.hop1 (export, fill or none)");
	}
	if (param(cmdline, "khochain.stale", stale, sizeof(stale)) && !strcmp(stale, "1"))
		plant_stale_descriptor();
	wait_for_test_kho(atoi(wait_s));
	if (run_khotool((char *[]){ "export", "--verbose", NULL }) != 0) {
		/* What the firmware will see: efivarfs lists the variables the
		 * firmware holds. */
		say("export fail descriptor=%s", stat(DESC_VAR, &st) == 0 ? "present" : "absent");
		power_off();
	}
	say("export ok");
	reboot_warm(next_entry);
	return 1;
}
