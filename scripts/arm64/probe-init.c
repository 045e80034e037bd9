/* The init of the arm64 probe initramfs (scripts/scenarios/arm64.py):
 * reports on the console what the kernel received, as "PROBE: " lines, then
 * powers off. Static, no busybox: Debian's busybox-static is amd64 here.
 *   PROBE: start kernel=<release>
 *   PROBE: root-cells address=<n> size=<n>      /proc/device-tree/#*-cells
 *   PROBE: chosen <name> bytes=<hex>|absent     linux,kho-fdt, linux,kho-scratch
 *   PROBE: iomem-ram <start>-<end>              /proc/iomem "System RAM"
 *   PROBE: kernel-code <start>-<end>            /proc/iomem "Kernel code"
 *   PROBE: efivar-written <name>                 (warm-reset scenarios, below)
 *   PROBE: done
 * With /efivar/<name> files in the initramfs (arm64-warm-reset-variable), the
 * first boot that finds no /efivar-marker variable writes each as a UEFI
 * variable through efivarfs (efivarfs.ko loaded from /lib/modules), writes
 * the marker, and resets warm (reboot(2) RB_AUTOBOOT: PSCI SYSTEM_RESET);
 * every other boot powers off (PSCI SYSTEM_OFF).
 * Built by the scenario with aarch64-linux-gnu-gcc -static. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/utsname.h>
#include <unistd.h>

static void hex_file(const char *label, const char *path)
{
    unsigned char buf[256];
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("PROBE: %s absent\n", label);
        return;
    }
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    printf("PROBE: %s bytes=", label);
    for (size_t i = 0; i < n; i++) printf("%02x", buf[i]);
    printf("\n");
}

static unsigned cells(const char *path)
{
    unsigned char b[4];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(b, 1, 4, f);
    fclose(f);
    return n == 4 ? (unsigned)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : 0;
}

static void iomem(void)
{
    char line[256];
    FILE *f = fopen("/proc/iomem", "r");
    if (!f) return;
    while (fgets(line, sizeof(line), f)) {
        char *colon = strstr(line, " : ");
        if (!colon) continue;
        *colon = 0;
        char *range = line;
        while (*range == ' ') range++;
        if (!strncmp(colon + 3, "System RAM", 10) && line[0] != ' ')
            printf("PROBE: iomem-ram %s\n", range);
        else if (!strncmp(colon + 3, "Kernel code", 11))
            printf("PROBE: kernel-code %s\n", range);
    }
    fclose(f);
}

#define EFIVARS "/sys/firmware/efi/efivars"

static int efivarfs(void)
{
    int fd = open("/lib/modules/efivarfs.ko", O_RDONLY);
    if (fd >= 0) {
        syscall(SYS_finit_module, fd, "", 0);
        close(fd);
    }
    return mount("efivarfs", EFIVARS, "efivarfs", 0, NULL);
}

/* Copies the file `src` (4-byte attributes, then the data) to the variable
 * `name`: efivarfs takes both in one write. */
static int put_var(const char *src, const char *name)
{
    unsigned char buf[65536];
    char path[512];
    int in = open(src, O_RDONLY);
    if (in < 0) return -1;
    ssize_t n = read(in, buf, sizeof(buf));
    close(in);
    snprintf(path, sizeof(path), EFIVARS "/%s", name);
    int out = open(path, O_WRONLY | O_CREAT, 0644);
    if (out < 0 || n <= 4 || write(out, buf, (size_t)n) != n) {
        printf("PROBE: efivar-failed %s\n", name);
        if (out >= 0) close(out);
        return -1;
    }
    close(out);
    printf("PROBE: efivar-written %s\n", name);
    return 0;
}

/* Returns 1 when it wrote the variables and the machine should reset. */
static int write_vars_once(void)
{
    char marker[256], path[512];
    FILE *f = fopen("/efivar-marker", "r");
    if (!f) return 0;
    if (!fgets(marker, sizeof(marker), f)) marker[0] = 0;
    fclose(f);
    marker[strcspn(marker, "\n")] = 0;
    if (efivarfs() != 0) {
        printf("PROBE: efivarfs not mounted\n");
        return 0;
    }
    snprintf(path, sizeof(path), EFIVARS "/%s", marker);
    if (access(path, F_OK) == 0) return 0;  /* the second boot */
    DIR *d = opendir("/efivar");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "/efivar/%s", e->d_name);
        put_var(path, e->d_name);
    }
    if (d) closedir(d);
    return put_var("/efivar-marker-data", marker) == 0;
}

int main(void)
{
    struct utsname u;
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    uname(&u);
    printf("PROBE: start kernel=%s\n", u.release);
    printf("PROBE: root-cells address=%u size=%u\n", cells("/proc/device-tree/#address-cells"),
           cells("/proc/device-tree/#size-cells"));
    hex_file("chosen linux,kho-fdt", "/proc/device-tree/chosen/linux,kho-fdt");
    hex_file("chosen linux,kho-scratch", "/proc/device-tree/chosen/linux,kho-scratch");
    iomem();
    int reset = write_vars_once();
    printf("PROBE: done\n");
    fflush(stdout);
    sync();
    reboot(reset ? RB_AUTOBOOT : RB_POWER_OFF);
    for (;;) pause();
}
