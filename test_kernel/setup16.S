/*
 * Real-mode part of the test_kernel bzImage: the boot sector with the setup
 * header at 0x1f1 and a 16-bit entry that builds a zero page (boot_params)
 * and enters the 32-bit entry. Only loaders that start a bzImage in real
 * mode use this path (QEMU -kernel with SeaBIOS); khoboot and kexec use the
 * 64-bit entry at +0x200 of the protected-mode part (head64.S).
 *
 * Layout and field meanings: Linux Documentation/arch/x86/boot.rst
 * ("The Real-Mode Kernel Header", "Running the Kernel"); offsets are also
 * pinned by static_asserts in abi/x86_boot.h. mkbzimage.py patches
 * setup_sects, syssize and init_size after the kernel is linked.
 */
#define ZERO_PAGE   0x8000          /* our boot_params, setup-segment relative */
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR      0x1f1
#define BP_E820_TABLE 0x2d0
#define HDR_END     0x26c           /* end of the 2.15 header (kernel_info_offset + 4) */
#define SMAP        0x534d4150

    .code16
    .section .setup, "ax"
    .globl _setup_start
_setup_start:
    /* Started as a boot sector this image can do nothing useful: halt. */
    cli
1:  hlt
    jmp 1b

    .org 0x1f1
hdr:
setup_sects:    .byte 0                 /* patched by mkbzimage.py */
root_flags:     .word 0
syssize:        .long 0                 /* patched: 16-byte units of the 32/64-bit part */
ram_size:       .word 0
vid_mode:       .word 0xffff            /* NORMAL_VGA: leave video alone */
root_dev:       .word 0
boot_flag:      .word 0xaa55
    /* 0x200: real-mode entry ("jump"), a two-byte short jump */
    .byte 0xeb, start_of_setup - 1f
1:
header:         .ascii "HdrS"
version:        .word 0x020c            /* 2.12: xloadflags; fields up to 0x268 exist */
realmode_swtch: .long 0
start_sys_seg:  .word 0x1000
kernel_version: .word version_string - 0x200
type_of_loader: .byte 0
loadflags:      .byte 0x01 | 0x80       /* LOADED_HIGH | CAN_USE_HEAP */
setup_move_size: .word 0x8000
code32_start:   .long 0x100000
ramdisk_image:  .long 0
ramdisk_size:   .long 0
bootsect_kludge: .long 0
heap_end_ptr:   .word 0
ext_loader_ver: .byte 0
ext_loader_type: .byte 0
cmd_line_ptr:   .long 0
initrd_addr_max: .long 0x7fffffff
kernel_alignment: .long 0x200000        /* preferred; any 4 KiB boundary works */
relocatable_kernel: .byte 1
min_alignment:  .byte 12
xloadflags:     .word 0x0001 | 0x0002   /* XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G */
cmdline_size:   .long 4095
hardware_subarch: .long 0
hardware_subarch_data: .quad 0
payload_offset: .long 0
payload_length: .long 0
setup_data:     .quad 0
pref_address:   .quad 0x1000000
init_size:      .long 0                 /* patched: bytes from load address to end of bss */
handover_offset: .long 0                /* no EFI handover entry */
kernel_info_offset: .long 0

    .org HDR_END
start_of_setup:
    cli
    cld
    /* The loader enters with CS = base + 0x20 and DS = ES = SS = base.
     * Reload CS with the base segment so that link-time offsets (setup.ld
     * starts at 0) address this image. */
    pushw %ds
    pushw $normalised
    lretw
normalised:
    movw %ds, %ax
    movw %ax, %es

    /* boot_params: zeroed, with a copy of the setup header. */
    movw $ZERO_PAGE, %di
    xorl %eax, %eax
    movw $1024, %cx
    rep stosl
    movw $BP_HDR, %si
    movw $(ZERO_PAGE + BP_HDR), %di
    movw $(HDR_END - BP_HDR), %cx
    rep movsb

    /* e820 from the BIOS (INT 15h, EAX=E820h), at most 128 entries. */
    movw $(ZERO_PAGE + BP_E820_TABLE), %di
    xorl %ebx, %ebx
e820_next:
    movl $0xe820, %eax
    movl $SMAP, %edx
    movl $20, %ecx
    int $0x15
    jc e820_done
    cmpl $SMAP, %eax
    jne e820_done
    incb (ZERO_PAGE + BP_E820_ENTRIES)
    addw $20, %di
    testl %ebx, %ebx
    jz e820_done
    cmpb $128, (ZERO_PAGE + BP_E820_ENTRIES)
    jb e820_next
e820_done:

    /* Linear base of this segment, for the GDT base and the far pointer. */
    xorl %ebp, %ebp
    movw %ds, %bp
    shll $4, %ebp
    movl %ebp, %eax
    addl $gdt, %eax
    movl %eax, gdt_desc + 2
    movl %ebp, %eax
    addl $protected32, %eax
    movl %eax, far_ptr
    lgdtl gdt_desc
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl *far_ptr

    .code32
protected32:
    movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    /* 32-bit boot protocol: %esi = boot_params, %ebp = %edi = %ebx = 0. */
    leal ZERO_PAGE(%ebp), %esi
    movl (ZERO_PAGE + BP_HDR + (code32_start - hdr))(%ebp), %eax
    xorl %ebx, %ebx
    xorl %edi, %edi
    xorl %ebp, %ebp
    jmp *%eax

    .balign 8
gdt:
    .quad 0, 0
    .quad 0x00cf9a000000ffff    /* 0x10 __BOOT_CS: 32-bit flat code */
    .quad 0x00cf92000000ffff    /* 0x18 __BOOT_DS: flat data */
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long 0
far_ptr:
    .long 0
    .word 0x10

version_string:
    .asciz "khoboot test_kernel"
