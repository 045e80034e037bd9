/* The init of the arm64 probe initramfs (scripts/scenarios/arm64.py):
 * reports on the console what the kernel received, as "PROBE: " lines, then
 * powers off. Static, no busybox: Debian's busybox-static is amd64 here.
 *   PROBE: start kernel=<release>
 *   PROBE: root-cells address=<n> size=<n>      /proc/device-tree/#*-cells
 *   PROBE: chosen <name> bytes=<hex>|absent     linux,kho-fdt, linux,kho-scratch
 *   PROBE: iomem-ram <start>-<end>              /proc/iomem "System RAM"
 *   PROBE: kernel-code <start>-<end>            /proc/iomem "Kernel code"
 *   PROBE: done
 * Built by the scenario with aarch64-linux-gnu-gcc -static. */
#include <stdio.h>
#include <string.h>
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
    printf("PROBE: done\n");
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
}
