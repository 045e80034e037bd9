/*
 * CPU exception entry stubs (vectors 0-31). A fault in the test kernel must
 * become a "result fail" line and a QEMU exit, never a triple fault: with
 * warm resets allowed a triple fault would restart the chain silently.
 * Each stub pushes a dummy error code where the CPU pushes none (SDM vol. 3
 * table 6-1: 8, 10-14, 17, 21, 29, 30 push one) and the vector number.
 */
    .code64
    .text

.macro STUB vec, has_error
    .balign 16
exception_stub_\vec:
    .if \has_error == 0
    pushq $0
    .endif
    pushq $\vec
    jmp exception_common
.endm

    STUB 0, 0
    STUB 1, 0
    STUB 2, 0
    STUB 3, 0
    STUB 4, 0
    STUB 5, 0
    STUB 6, 0
    STUB 7, 0
    STUB 8, 1
    STUB 9, 0
    STUB 10, 1
    STUB 11, 1
    STUB 12, 1
    STUB 13, 1
    STUB 14, 1
    STUB 15, 0
    STUB 16, 0
    STUB 17, 1
    STUB 18, 0
    STUB 19, 0
    STUB 20, 0
    STUB 21, 1
    STUB 22, 0
    STUB 23, 0
    STUB 24, 0
    STUB 25, 0
    STUB 26, 0
    STUB 27, 0
    STUB 28, 0
    STUB 29, 1
    STUB 30, 1
    STUB 31, 0

exception_common:
    /* frame: vector, error, rip, cs, rflags, rsp, ss */
    movq %rsp, %rdi
    andq $-16, %rsp
    call exception_report
1:  cli
    hlt
    jmp 1b

    /* exception_stub_base + 16 * vector */
    .globl exception_stub_base
    .set exception_stub_base, exception_stub_0
