/*
 * ram-verify: /init of the arm64 consumer that checks preserved bytes
 * (scripts/scenarios/arm64_linux.py, arm64-synth-verify). It runs in the
 * KHO kernel khoboot handed a state to, and compares every preserved block
 * with what the host placed there: /ram-verify.list holds one line per
 * block, "ADDR LEN CRC32" in hex, the CRC-32 computed on the host from the
 * RAM images QEMU loaded (so independently of the firmware, khoboot and
 * the kernel in between). Each block is read through /dev/mem (the KHO
 * kernel has no STRICT_DEVMEM) and its CRC-32 taken with zlib.
 *
 * Lines (tag "VERIFY: "):
 *   VERIFY: start kernel=RELEASE ranges=N
 *   VERIFY: mismatch addr=0x.. len=0x.. crc=0x.. want=0x..   (each, up to 8)
 *   VERIFY: unreadable addr=0x.. len=0x.. errno=..            (each, up to 8)
 *   VERIFY: ok ranges=N bytes=B   or   VERIFY: fail bad=K of N
 * then power off, which ends QEMU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (1u << 20)
#define MAX_REPORTS 8

static void power_off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

/* CRC-32 of [addr, addr + len) of physical memory; -1 with errno set when
 * /dev/mem refuses or comes up short. */
static int crc_of_range(int mem, uint64_t addr, uint64_t len, uint32_t *out)
{
	static unsigned char buf[CHUNK];
	uLong crc = crc32(0L, Z_NULL, 0);

	while (len) {
		size_t want = len < CHUNK ? (size_t)len : CHUNK;
		ssize_t got = pread(mem, buf, want, (off_t)addr);

		if (got != (ssize_t)want) {
			if (got >= 0)
				errno = EIO;
			return -1;
		}
		crc = crc32(crc, buf, (uInt)want);
		addr += want;
		len -= want;
	}
	*out = (uint32_t)crc;
	return 0;
}

int main(void)
{
	struct utsname u;
	uint64_t addr, len, bytes = 0;
	unsigned want;
	unsigned long n = 0, bad = 0, reports = 0;
	FILE *list;
	int mem;

	mkdir("/dev", 0755);
	mkdir("/proc", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	/* Console loglevel 1: kernel messages would otherwise cut into lines. */
	{
		int fd = open("/proc/sys/kernel/printk", O_WRONLY);

		if (fd >= 0) {
			(void)!write(fd, "1\n", 2);
			close(fd);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	uname(&u);
	list = fopen("/ram-verify.list", "r");
	mem = open("/dev/mem", O_RDONLY | O_CLOEXEC);
	if (!list || mem < 0) {
		printf("VERIFY: fail cannot open %s: %s\n", list ? "/dev/mem" : "/ram-verify.list", strerror(errno));
		power_off();
	}
	while (fscanf(list, "%" SCNx64 " %" SCNx64 " %x", &addr, &len, &want) == 3)
		n++;
	rewind(list);
	printf("VERIFY: start kernel=%s ranges=%lu\n", u.release, n);
	while (fscanf(list, "%" SCNx64 " %" SCNx64 " %x", &addr, &len, &want) == 3) {
		uint32_t crc;

		if (crc_of_range(mem, addr, len, &crc)) {
			if (reports++ < MAX_REPORTS)
				printf("VERIFY: unreadable addr=0x%" PRIx64 " len=0x%" PRIx64 " errno=%d\n", addr, len, errno);
			bad++;
		} else if (crc != want) {
			if (reports++ < MAX_REPORTS)
				printf("VERIFY: mismatch addr=0x%" PRIx64 " len=0x%" PRIx64 " crc=0x%08x want=0x%08x\n",
				       addr, len, crc, want);
			bad++;
		}
		bytes += len;
	}
	if (n == 0)
		printf("VERIFY: fail no ranges in /ram-verify.list\n");
	else if (bad)
		printf("VERIFY: fail bad=%lu of %lu\n", bad, n);
	else
		printf("VERIFY: ok ranges=%lu bytes=%" PRIu64 "\n", n, bytes);
	power_off();
	return 0;
}
