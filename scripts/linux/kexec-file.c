/*
 * kexec-file: the kernel's own kexec path, nothing else, for the LUO chains
 * (scripts/linux/luo-init.sh): kexec_file_load(KERNEL, INITRD, CMDLINE)
 * then reboot(LINUX_REBOOT_CMD_KEXEC), as `kexec -s -l ... && kexec -e`
 * (the selftests' do_kexec.sh) does. Used for the reference blackout (Linux
 * A straight into Linux B) and to start the handoff image on a kernel
 * without KHO, which khotool reboot refuses to do.
 *
 *   kexec-file KERNEL INITRD|- CMDLINE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kexec.h>
#include <linux/reboot.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: kexec-file KERNEL INITRD|- CMDLINE\n");
		return 2;
	}
	int kfd = open(argv[1], O_RDONLY | O_CLOEXEC);
	int ifd = strcmp(argv[2], "-") ? open(argv[2], O_RDONLY | O_CLOEXEC) : -1;
	if (kfd < 0 || (strcmp(argv[2], "-") && ifd < 0)) {
		printf("kexec-file: fail open: %s\n", strerror(errno));
		return 1;
	}
	unsigned long flags = ifd < 0 ? KEXEC_FILE_NO_INITRAMFS : 0;
	if (syscall(SYS_kexec_file_load, kfd, ifd, strlen(argv[3]) + 1, argv[3], flags)) {
		printf("kexec-file: fail kexec_file_load: %s\n", strerror(errno));
		return 1;
	}
	printf("kexec-file: kexec %s\n", argv[1]);
	fflush(stdout);
	sync();
	reboot(LINUX_REBOOT_CMD_KEXEC);
	printf("kexec-file: fail reboot: %s\n", strerror(errno));
	return 1;
}
