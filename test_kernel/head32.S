/*
 * 32-bit entry (protected-mode start + 0): for loaders that use the 32-bit
 * boot protocol (GRUB's legacy linux loader, setup16.S). boot.rst "32-bit
 * Boot Protocol": flat __BOOT_CS/__BOOT_DS, paging off, interrupts off,
 * %esi = boot_params. Builds a temporary identity map of the first 4 GiB
 * with 2 MiB pages, enables long mode and enters startup_64 at +0x200 as
 * a 64-bit loader would.
 *
 * Position independence: the image may be loaded anywhere, so every
 * address is formed as (symbol - startup_32) + load address, which the
 * assembler turns into a PC-relative fix-up (no absolute relocation).
 */
#define RVA(x) ((x) - startup_32)

    .code32
    .section .head32, "ax"
    .globl startup_32
startup_32:
    cli
    cld
    /* A one-word stack in boot_params.scratch (0x1e4, meant for this) to
     * learn our load address. */
    leal (0x1e4 + 4)(%esi), %esp
    call 1f
1:  popl %ebp
    subl $RVA(1b), %ebp
    leal RVA(boot_stack_top)(%ebp), %esp

    /* Six zeroed pages: PML4, PDPT, 4 PDs. */
    leal RVA(pgt32)(%ebp), %edi
    xorl %eax, %eax
    movl $(6 * 4096 / 4), %ecx
    rep stosl
    leal RVA(pgt32)(%ebp), %edi
    leal 0x1003(%edi), %eax           /* present | writable */
    movl %eax, (%edi)
    leal 0x2003(%edi), %eax
    xorl %ecx, %ecx
2:  movl %eax, 0x1000(%edi, %ecx, 8)
    addl $0x1000, %eax
    incl %ecx
    cmpl $4, %ecx
    jb 2b
    movl $0x83, %eax                  /* present | writable | 2 MiB page */
    xorl %ecx, %ecx
3:  movl %eax, 0x2000(%edi, %ecx, 8)
    addl $0x200000, %eax
    incl %ecx
    cmpl $2048, %ecx
    jb 3b

    movl %cr4, %eax
    orl $0x20, %eax                   /* PAE */
    movl %eax, %cr4
    movl %edi, %cr3
    movl $0xc0000080, %ecx            /* EFER.LME */
    rdmsr
    orl $0x100, %eax
    wrmsr

    leal RVA(gdt32to64)(%ebp), %eax
    movl %eax, RVA(gdt32to64_desc + 2)(%ebp)
    lgdt RVA(gdt32to64_desc)(%ebp)
    movl %cr0, %eax
    orl $0x80000001, %eax             /* PG | PE */
    movl %eax, %cr0

    /* Far return into 64-bit code: startup_64 = load address + 0x200. */
    pushl $0x10
    leal 0x200(%ebp), %eax
    pushl %eax
    lret

    .section .data
    .balign 8
gdt32to64:
    .quad 0, 0
    .quad 0x00af9a000000ffff          /* 0x10 64-bit code */
    .quad 0x00cf92000000ffff          /* 0x18 data */
gdt32to64_end:
gdt32to64_desc:
    .word gdt32to64_end - gdt32to64 - 1
    .long 0

    /* Live page tables of the 32-bit path: outside the bss that
     * startup_64 clears (kernel.ld places .pgt32 before __bss_start). */
    .section .pgt32, "aw", @nobits
    .balign 4096
pgt32:
    .skip 6 * 4096
