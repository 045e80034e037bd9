/*
 * kho-init: static /init for the KHO capture initramfs (scripts/linux/).
 *
 * Stage 1 (cold boot, "Linux A"):
 *   mount proc, sysfs, devtmpfs, debugfs; print /proc/cmdline, the outgoing
 *   KHO FDT (hex) and the scratch regions from debugfs; load /bzImage with
 *   kexec_file_load(2), initrd /initrd-b.cpio.gz, command line = ours plus
 *   " memblock=debug khoinit.stage=2"; print the READY marker; wait until the
 *   host writes 'g' to the second serial port (/dev/ttyS1); then kexec.
 * Stage 2 ("Linux B", detected by khoinit.stage=2 on the command line or
 *   by debugfs kho/in existing): print the incoming KHO FDT and sub-blob
 *   names, then power off.
 *
 * Every line this program prints starts with "KHOINIT: " so the host can
 * find it in the serial log. Build: gcc -static -O2 -o init kho-init.c
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
#include <linux/kexec.h>
#include <linux/reboot.h>

#define KHO_DBG "/sys/kernel/debug/kho"
#define STAGE2_ARG "khoinit.stage=2"
#define NEXT_ARGS " memblock=debug " STAGE2_ARG

static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "KHOINIT: ");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	if (n < (int)sizeof(buf) - 1) {
		buf[n++] = '\n';
		buf[n] = 0;
	}
	(void)!write(1, buf, n);
}

static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	/* QEMU runs with -no-reboot: a reset ends it too. */
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

static void fail(const char *what)
{
	say("FAIL %s: %s", what, strerror(errno));
	power_off();
}

/* Reads a whole (small, pseudo) file; returns length or -1. */
static long slurp(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf + len, cap - len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += r;
		if (len == cap)
			break;
	}
	close(fd);
	return len;
}

static void do_mount(const char *src, const char *dst, const char *type)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, 0, NULL) && errno != EBUSY)
		fail(dst);
}

static void print_hex_blob(const char *tag, const unsigned char *p, long len)
{
	static const char hx[] = "0123456789abcdef";
	char line[2 * 64 + 1];

	say("%s-size %ld", tag, len);
	for (long off = 0; off < len; off += 64) {
		int n = len - off < 64 ? len - off : 64;

		for (int i = 0; i < n; i++) {
			line[2 * i] = hx[p[off + i] >> 4];
			line[2 * i + 1] = hx[p[off + i] & 15];
		}
		line[2 * n] = 0;
		say("%s-hex %06lx %s", tag, off, line);
	}
}

static void print_lines(const char *tag, const char *path)
{
	char buf[4096];
	long n = slurp(path, buf, sizeof(buf) - 1);
	char *save, *tok;

	if (n < 0) {
		say("%s unreadable: %s", tag, strerror(errno));
		return;
	}
	buf[n] = 0;
	for (tok = strtok_r(buf, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save))
		say("%s %s", tag, tok);
}

static void print_dir(const char *tag, const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d) {
		say("%s none", tag);
		return;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			say("%s %s", tag, e->d_name);
	closedir(d);
}

static void setup_console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* Opens the control serial port raw (before READY, so no byte is lost). */
static int open_ctl(void)
{
	struct termios t;
	int fd = open("/dev/ttyS1", O_RDWR | O_NOCTTY);

	if (fd < 0)
		fail("open /dev/ttyS1");
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		tcsetattr(fd, TCSANOW, &t);
	}
	tcflush(fd, TCIFLUSH);
	return fd;
}

/* Blocks until the host writes 'g' to the control serial port. */
static void wait_for_go(int fd)
{
	char c = 0;

	while (c != 'g') {
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno != EINTR)
			fail("read /dev/ttyS1");
	}
	close(fd);
}

static unsigned char fdt_buf[1 << 16];

static void stage1(const char *cmdline)
{
	static char next[4096];
	long n;
	int kfd, ifd, ctl;

	n = slurp(KHO_DBG "/out/fdt", (char *)fdt_buf, sizeof(fdt_buf));
	if (n < 0)
		fail(KHO_DBG "/out/fdt (is kho=on set?)");
	print_hex_blob("out-fdt", fdt_buf, n);
	print_lines("scratch_phys", KHO_DBG "/out/scratch_phys");
	print_lines("scratch_len", KHO_DBG "/out/scratch_len");
	print_dir("out-sub", KHO_DBG "/out/sub_fdts");

	if ((size_t)snprintf(next, sizeof(next), "%s%s", cmdline, NEXT_ARGS) >= sizeof(next)) {
		errno = E2BIG;
		fail("next command line");
	}
	kfd = open("/bzImage", O_RDONLY);
	if (kfd < 0)
		fail("open /bzImage");
	ifd = open("/initrd-b.cpio.gz", O_RDONLY);
	if (ifd < 0)
		fail("open /initrd-b.cpio.gz");
	say("next-cmdline %s", next);
	if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(next) + 1, next, 0UL))
		fail("kexec_file_load");
	close(kfd);
	close(ifd);

	ctl = open_ctl();
	/* The state is final from here on: the host may dump RAM now. */
	say("READY for kexec (write 'g' to ttyS1)");
	wait_for_go(ctl);
	say("GO: kexec now");
	sync();
	syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
		LINUX_REBOOT_CMD_KEXEC, NULL);
	fail("reboot(LINUX_REBOOT_CMD_KEXEC)");
}

static void stage2(void)
{
	long n;

	say("stage 2 (after kexec)");
	n = slurp(KHO_DBG "/in/fdt", (char *)fdt_buf, sizeof(fdt_buf));
	if (n < 0)
		say("in-fdt missing: %s", strerror(errno));
	else
		print_hex_blob("in-fdt", fdt_buf, n);
	print_dir("in-sub", KHO_DBG "/in/sub_fdts");
	print_lines("in-scratch_phys", KHO_DBG "/out/scratch_phys");
	print_lines("in-scratch_len", KHO_DBG "/out/scratch_len");
	say("DONE");
	power_off();
}

int main(void)
{
	static char cmdline[4096];
	struct stat st;
	long n;

	do_mount("devtmpfs", "/dev", "devtmpfs");
	setup_console();
	do_mount("proc", "/proc", "proc");
	do_mount("sysfs", "/sys", "sysfs");
	do_mount("debugfs", "/sys/kernel/debug", "debugfs");

	n = slurp("/proc/cmdline", cmdline, sizeof(cmdline) - 1);
	if (n < 0)
		fail("/proc/cmdline");
	while (n > 0 && (cmdline[n - 1] == '\n' || cmdline[n - 1] == ' '))
		n--;
	cmdline[n] = 0;
	say("cmdline %s", cmdline);

	if (strstr(cmdline, STAGE2_ARG) || stat(KHO_DBG "/in", &st) == 0)
		stage2();
	stage1(cmdline);
	return 1;
}
