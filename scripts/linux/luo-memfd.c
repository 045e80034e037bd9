/*
 * luo-memfd: preserves memfds full of a known pattern in a LUO session, and
 * after the live update checks every byte. The payload of the scenario that
 * stands for a VM's memory (scripts/scenarios/luo.py).
 *
 *   luo-memfd fill MIB FILES   FILES memfds of MIB/FILES MiB each, filled,
 *                              preserved in session "khoboot-memfd" (token =
 *                              file index); a daemon keeps the session open
 *                              until the kexec
 *   luo-memfd verify           retrieves them, checks size and every byte,
 *                              finishes the session
 *
 * The pattern: the 8-byte word at offset OFF of file I is splitmix64(I << 48
 * ^ OFF), so a page moved, dropped or swapped with another shows up, not only
 * a page whose bytes changed. Uses the kernel's uAPI (include/uapi/linux/
 * liveupdate.h) directly. Lines start with "LUO_MEMFD: ".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/liveupdate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SESSION "khoboot-memfd"
#define COUNT_TOKEN 0xffff /* a one-page memfd holding the file count */

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t word(unsigned file, uint64_t off) { return splitmix64((uint64_t)file << 48 ^ off); }

static int die(const char *what)
{
	printf("LUO_MEMFD: fail %s: %s\n", what, strerror(errno));
	return 1;
}

static int open_session(int create)
{
	int luo = open("/dev/liveupdate", O_RDWR);
	if (luo < 0)
		return -1;
	int fd;
	if (create) {
		struct liveupdate_ioctl_create_session a = {.size = sizeof(a)};
		snprintf((char *)a.name, sizeof(a.name), "%s", SESSION);
		fd = ioctl(luo, LIVEUPDATE_IOCTL_CREATE_SESSION, &a) < 0 ? -1 : a.fd;
	} else {
		struct liveupdate_ioctl_retrieve_session a = {.size = sizeof(a)};
		snprintf((char *)a.name, sizeof(a.name), "%s", SESSION);
		fd = ioctl(luo, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &a) < 0 ? -1 : a.fd;
	}
	int e = errno;
	close(luo);
	errno = e;
	return fd;
}

static int preserve(int session, int token, uint64_t bytes, unsigned file, int count_page)
{
	int mfd = memfd_create("khoboot-memfd", 0);
	if (mfd < 0 || ftruncate(mfd, (off_t)bytes))
		return -1;
	uint64_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED)
		return -1;
	if (count_page)
		p[0] = file;
	else
		for (uint64_t i = 0; i < bytes / 8; i++)
			p[i] = word(file, i * 8);
	munmap(p, bytes);
	struct liveupdate_session_preserve_fd a = {.size = sizeof(a), .fd = mfd, .token = token};
	int rc = ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &a);
	close(mfd);
	return rc;
}

static int fill(unsigned mib, unsigned files)
{
	if (!files || mib % files)
		return errno = EINVAL, die("MIB must be a multiple of FILES");
	uint64_t each = (uint64_t)mib / files << 20;
	int s = open_session(1);
	if (s < 0)
		return die("create session " SESSION);
	if (preserve(s, COUNT_TOKEN, 4096, files, 1))
		return die("preserve the count memfd");
	for (unsigned f = 0; f < files; f++)
		if (preserve(s, (int)f, each, f, 0))
			return die("preserve a memfd");
	printf("LUO_MEMFD: preserved files=%u bytes=%llu\n", files, (unsigned long long)each * files);
	fflush(stdout);
	/* The session lives as long as its file: keep it in a daemon. */
	pid_t pid = fork();
	if (pid < 0)
		return die("fork");
	if (pid > 0)
		return 0;
	setsid();
	for (;;)
		pause();
}

static int retrieve(int session, int token, struct stat *st)
{
	struct liveupdate_session_retrieve_fd a = {.size = sizeof(a), .token = token};
	if (ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &a) < 0 || fstat(a.fd, st))
		return -1;
	return a.fd;
}

static int verify(void)
{
	int s = open_session(0);
	if (s < 0)
		return die("retrieve session " SESSION);
	struct stat st;
	int cfd = retrieve(s, COUNT_TOKEN, &st);
	if (cfd < 0)
		return die("retrieve the count memfd");
	uint64_t *c = mmap(NULL, 4096, PROT_READ, MAP_SHARED, cfd, 0);
	if (c == MAP_FAILED)
		return die("mmap the count memfd");
	unsigned files = (unsigned)c[0];
	uint64_t total = 0;
	for (unsigned f = 0; f < files; f++) {
		int fd = retrieve(s, (int)f, &st);
		if (fd < 0)
			return die("retrieve a memfd");
		uint64_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return die("mmap a memfd");
		for (uint64_t i = 0; i < (uint64_t)st.st_size / 8; i++) {
			if (p[i] != word(f, i * 8)) {
				printf("LUO_MEMFD: mismatch file=%u offset=0x%llx got=0x%016llx want=0x%016llx\n", f,
				       (unsigned long long)i * 8, (unsigned long long)p[i],
				       (unsigned long long)word(f, i * 8));
				return 1;
			}
		}
		total += (uint64_t)st.st_size;
		munmap(p, (size_t)st.st_size);
		close(fd);
	}
	struct liveupdate_session_finish fin = {.size = sizeof(fin)};
	if (ioctl(s, LIVEUPDATE_SESSION_FINISH, &fin) < 0)
		return die("finish session " SESSION);
	printf("LUO_MEMFD: verified files=%u bytes=%llu\n", files, (unsigned long long)total);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "fill"))
		return fill((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
	if (argc == 2 && !strcmp(argv[1], "verify"))
		return verify();
	fprintf(stderr, "usage: luo-memfd fill MIB FILES | luo-memfd verify\n");
	return 2;
}
