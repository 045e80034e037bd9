/*
 * Enters a Linux kernel through the x86-64 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst "64-bit Boot Protocol"): long mode with
 * the firmware's identity map, a GDT whose 0x10 (__BOOT_CS) and 0x18
 * (__BOOT_DS) are flat 4 GiB code and data, interrupts off, %rsi =
 * boot_params, jump to load + 0x200. kexec's purgatory (entry64.S) loads
 * the same GDT layout for the same reason.
 *
 *   void khoboot_enter_linux64(uint64_t entry, uint64_t boot_params)
 *        __attribute__((noreturn));    SysV: %rdi = entry, %rsi = boot_params
 */
	.text
	.globl	khoboot_enter_linux64
	.type	khoboot_enter_linux64, @function
khoboot_enter_linux64:
	cli
	cld
	/* GDTR on the stack: the GDT's run-time address, no relocation. */
	leaq	khoboot_gdt(%rip), %rax
	subq	$16, %rsp
	movw	$(khoboot_gdt_end - khoboot_gdt - 1), (%rsp)
	movq	%rax, 2(%rsp)
	lgdt	(%rsp)
	addq	$16, %rsp
	/* Reload %cs with 0x10 through a far return. */
	leaq	1f(%rip), %rax
	pushq	$0x10
	pushq	%rax
	lretq
1:
	movl	$0x18, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	xorl	%ebp, %ebp
	xorl	%ebx, %ebx
	jmp	*%rdi
	.size	khoboot_enter_linux64, . - khoboot_enter_linux64

	.section .rodata
	.balign	16
khoboot_gdt:
	.quad	0x0000000000000000	/* null */
	.quad	0x0000000000000000	/* unused */
	.quad	0x00af9a000000ffff	/* 0x10: 64-bit code, base 0, limit 4G */
	.quad	0x00cf92000000ffff	/* 0x18: data, base 0, limit 4G */
khoboot_gdt_end:

	.section .note.GNU-stack, "", @progbits
