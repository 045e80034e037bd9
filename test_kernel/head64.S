/*
 * 64-bit entry at protected-mode start + 0x200 (boot.rst "64-bit Boot
 * Protocol"; "64bit entry is 0x200 and it is ABI so immutable!" in Linux
 * arch/x86/boot/compressed/head_64.S). The loader guarantees long mode, an
 * identity map of the image, boot_params and the command line, a GDT with
 * __BOOT_CS/__BOOT_DS, interrupts off and %rsi = boot_params.
 *
 * The loader's GDT, stack and page tables live in memory that is free RAM
 * from now on (EfiBootServicesData/LoaderData): switch to our own before
 * anything else, then clear .bss and call kmain(boot_params).
 */
    .code64
    .section .head64, "ax"
    .globl startup_64
startup_64:
    cli
    cld
    leaq boot_stack_top(%rip), %rsp
    movq %rsi, %r12

    leaq gdt64(%rip), %rax
    movq %rax, gdt64_desc + 2(%rip)
    lgdt gdt64_desc(%rip)
    movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    leaq 1f(%rip), %rax
    pushq $0x10
    pushq %rax
    lretq
1:
    leaq __bss_start(%rip), %rdi
    leaq __bss_end(%rip), %rcx
    subq %rdi, %rcx
    xorl %eax, %eax
    rep stosb

    leaq boot_stack_top(%rip), %rsp
    movq %r12, %rdi
    call kmain
2:  cli
    hlt
    jmp 2b

    .section .data
    .balign 16
gdt64:
    .quad 0, 0
    .quad 0x00af9a000000ffff          /* 0x10 __BOOT_CS: 64-bit code */
    .quad 0x00cf92000000ffff          /* 0x18 __BOOT_DS */
gdt64_end:
    .balign 8
    .word 0, 0, 0
gdt64_desc:
    .word gdt64_end - gdt64 - 1
    .quad 0

    .section .bss
    .balign 16
    .globl boot_stack_top
boot_stack:
    .skip 64 * 1024
boot_stack_top:
