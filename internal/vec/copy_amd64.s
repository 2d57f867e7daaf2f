//go:build amd64 && !purego

#include "textflag.h"

// copymask: 8 lanes on, 8 off; the window of 8 starting at lane 8-r has
// the first r on.
DATA copymask<>+0(SB)/8, $0xffffffffffffffff
DATA copymask<>+8(SB)/8, $0xffffffffffffffff
DATA copymask<>+16(SB)/8, $0xffffffffffffffff
DATA copymask<>+24(SB)/8, $0xffffffffffffffff
DATA copymask<>+32(SB)/8, $0
DATA copymask<>+40(SB)/8, $0
DATA copymask<>+48(SB)/8, $0
DATA copymask<>+56(SB)/8, $0
GLOBL copymask<>(SB), RODATA|NOPTR, $64

// func copyRowsAVX2(dst, src *float32, n, m, ldDst, ldSrc int)
//
// Copies n rows of m floats, ldSrc apart in src, to rows ldDst apart in
// dst: 4 vectors at a time, then single vectors, then a masked partial one.
TEXT ·copyRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ m+24(FP), DX
	MOVQ ldDst+32(FP), R8
	MOVQ ldSrc+40(FP), R9
	SHLQ $2, R8
	SHLQ $2, R9
	// Y15: the mask of the last m%8 floats of a row.
	MOVQ DX, AX
	ANDQ $7, AX
	SHLQ $2, AX
	LEAQ copymask<>+32(SB), R11
	SUBQ AX, R11
	VMOVDQU (R11), Y15
	TESTQ CX, CX
	JEQ done
row:
	XORQ AX, AX
	MOVQ DX, BX
quad:
	CMPQ BX, $32
	JLT single
	VMOVUPS 0(SI)(AX*1), Y0
	VMOVUPS 32(SI)(AX*1), Y1
	VMOVUPS 64(SI)(AX*1), Y2
	VMOVUPS 96(SI)(AX*1), Y3
	VMOVUPS Y0, 0(DI)(AX*1)
	VMOVUPS Y1, 32(DI)(AX*1)
	VMOVUPS Y2, 64(DI)(AX*1)
	VMOVUPS Y3, 96(DI)(AX*1)
	ADDQ $128, AX
	SUBQ $32, BX
	JMP quad
single:
	CMPQ BX, $8
	JLT partial
	VMOVUPS 0(SI)(AX*1), Y0
	VMOVUPS Y0, 0(DI)(AX*1)
	ADDQ $32, AX
	SUBQ $8, BX
	JMP single
partial:
	TESTQ BX, BX
	JEQ next
	VMASKMOVPS 0(SI)(AX*1), Y15, Y0
	VMASKMOVPS Y0, Y15, 0(DI)(AX*1)
next:
	ADDQ R8, DI
	ADDQ R9, SI
	DECQ CX
	JNE row
done:
	VZEROUPPER
	RET
