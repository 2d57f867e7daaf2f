//go:build ignore

// gen_kernels writes kernel_amd64.s. The kernels are long, regular
// instruction sequences, so they are generated rather than typed by hand.
//
// Run with: go generate ./internal/gemm
package main

import (
	"bytes"
	"fmt"
	"os"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(name string)            { fmt.Fprintf(&out, "%s:\n", name) }

// rowAddr returns the address of row i of an operand whose base is in base
// and whose row stride (bytes) is in s1; s3, s5, s7 hold 3x, 5x and 7x the stride.
func rowAddr(i int, base, s1, s3, s5, s7 string) string {
	switch i {
	case 0:
		return fmt.Sprintf("(%s)", base)
	case 1:
		return fmt.Sprintf("(%s)(%s*1)", base, s1)
	case 2:
		return fmt.Sprintf("(%s)(%s*2)", base, s1)
	case 3:
		return fmt.Sprintf("(%s)(%s*1)", base, s3)
	case 4:
		return fmt.Sprintf("(%s)(%s*4)", base, s1)
	case 5:
		return fmt.Sprintf("(%s)(%s*1)", base, s5)
	case 6:
		return fmt.Sprintf("(%s)(%s*2)", base, s3)
	case 7:
		return fmt.Sprintf("(%s)(%s*1)", base, s7)
	}
	panic("row out of range")
}

// outerKernel emits an mr x (vecs*lanes) outer-product micro-kernel:
// for each k step it loads `vecs` vectors of one row of B and broadcasts
// mr elements of a column of A. Accumulators live in registers 0..mr*vecs-1.
// B's rows are bKStride apart, or, when indirect, at the element offsets
// rows[0..k-1] from b: one more scalar load per step, and no copy of B.
func outerKernel(name, reg string, lanes, mr, vecs int, bcastRegs []int, bRegs []int, alphaReg, betaReg int, indirect bool) {
	size := lanes * 4
	bArg := "bKStride int"
	if indirect {
		bArg = "rows *int"
	}
	fmt.Fprintf(&out, "// func %s(k int, a *float32, aRowStride, aKStride int, b *float32, %s, c *float32, ldc int, alpha, beta float32)\n", name, bArg)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-72\n", name)
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ aRowStride+16(FP), R8")
	p("MOVQ aKStride+24(FP), DX")
	p("MOVQ b+32(FP), DI")
	if indirect {
		p("MOVQ rows+40(FP), BX")
	} else {
		p("MOVQ bKStride+40(FP), BX")
	}
	p("MOVQ c+48(FP), AX")
	p("MOVQ ldc+56(FP), R12")
	p("SHLQ $2, R8")
	p("SHLQ $2, DX")
	if !indirect {
		p("SHLQ $2, BX")
	}
	p("SHLQ $2, R12")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	acc := startLoop(name, reg, mr, vecs)
	bRow := "(DI)"
	if indirect {
		p("MOVQ (BX), R13")
		bRow = "(DI)(R13*4)"
	}
	for v := 0; v < vecs; v++ {
		p("VMOVUPS %d%s, %s%d", v*size, bRow, reg, bRegs[v])
	}
	for i := 0; i < mr; i++ {
		br := bcastRegs[i%len(bcastRegs)]
		p("VBROADCASTSS %s, %s%d", rowAddr(i, "SI", "R8", "R9", "R10", "R11"), reg, br)
		for v := 0; v < vecs; v++ {
			p("VFMADD231PS %s%d, %s%d, %s", reg, br, reg, bRegs[v], acc(i, v))
		}
	}
	p("ADDQ DX, SI")
	if indirect {
		p("ADDQ $8, BX")
	} else {
		p("ADDQ BX, DI")
	}
	p("DECQ CX")
	p("JNZ %s_loop", name)
	label(name + "_epilogue")
	storeC(name, reg, mr, vecs, alphaReg, betaReg, 64)
}

// startLoop zeroes an outer kernel's mr*vecs accumulators (registers
// 0...), skips to the epilogue when there are no steps (CX = 0) and opens
// the loop; it returns the accumulator of row i, vector v.
func startLoop(name, reg string, mr, vecs int) func(i, v int) string {
	for i := 0; i < mr*vecs; i++ {
		p("VXORPS %s%d, %s%d, %s%d", reg, i, reg, i, reg, i)
	}
	p("TESTQ CX, CX")
	p("JEQ %s_epilogue", name)
	label(name + "_loop")
	return func(i, v int) string { return fmt.Sprintf("%s%d", reg, i*vecs+v) }
}

// storeC emits the end of an outer kernel: C (address in AX, row stride
// in bytes in R12) = alpha*acc + beta*C, with alpha and beta at argOff and
// argOff+4 in the argument frame.
func storeC(name, reg string, mr, vecs, alphaReg, betaReg, argOff int) {
	size := 4 * map[string]int{"Y": 8, "Z": 16}[reg]
	acc := func(i, v int) string { return fmt.Sprintf("%s%d", reg, i*vecs+v) }
	// alpha == 1 (the usual case) skips the scaling.
	p("MOVL alpha+%d(FP), R13", argOff)
	p("CMPL R13, $0x3f800000")
	p("JEQ %s_beta", name)
	p("VBROADCASTSS alpha+%d(FP), %s%d", argOff, reg, alphaReg)
	for i := 0; i < mr*vecs; i++ {
		p("VMULPS %s%d, %s%d, %s%d", reg, alphaReg, reg, i, reg, i)
	}
	label(name + "_beta")
	// beta == ±0 must not read C at all: it may hold garbage or NaN.
	p("MOVL beta+%d(FP), R13", argOff+4)
	p("ANDL $0x7fffffff, R13")
	p("JEQ %s_store", name)
	p("VBROADCASTSS beta+%d(FP), %s%d", argOff+4, reg, betaReg)
	for i := 0; i < mr; i++ {
		for v := 0; v < vecs; v++ {
			p("VFMADD231PS %d(AX), %s%d, %s", v*size, reg, betaReg, acc(i, v))
			p("VMOVUPS %s, %d(AX)", acc(i, v), v*size)
		}
		p("ADDQ R12, AX")
	}
	p("VZEROUPPER")
	p("RET")
	label(name + "_store")
	for i := 0; i < mr; i++ {
		for v := 0; v < vecs; v++ {
			p("VMOVUPS %s, %d(AX)", acc(i, v), v*size)
		}
		p("ADDQ R12, AX")
	}
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// aRowsKernel emits an outer kernel whose A is given by row offsets: row i
// of A is the k values from a[aRows[i]], contiguous, as the runs of a padded
// image under each tap of a convolution are. Each step broadcasts one value
// of every row, so A is read in place where a packed panel would transpose
// it. The mr row pointers, B and the step count fill the general-purpose
// registers; C's address and stride are loaded only to store. With sets = 2
// the steps alternate between two sets of accumulators, added at the end:
// a one-vector-wide tile has too few accumulators to hide the FMA latency.
func aRowsKernel(name, reg string, lanes, mr, vecs, sets int, bcastRegs []int, bRegs []int, alphaReg, betaReg int) {
	size := lanes * 4
	rowRegs := []string{"SI", "R8", "R9", "R10", "R11", "DX", "AX", "R12"}[:mr]
	fmt.Fprintf(&out, "// func %s(k int, a *float32, aRows *int, b *float32, bKStride int, c *float32, ldc int, alpha, beta float32)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), DI")
	p("MOVQ aRows+16(FP), BX")
	for i, r := range rowRegs {
		p("MOVQ %d(BX), %s", 8*i, r)
		p("LEAQ (DI)(%s*4), %s", r, r)
	}
	p("MOVQ b+24(FP), DI")
	p("MOVQ bKStride+32(FP), BX")
	p("SHLQ $2, BX")
	p("XORQ R13, R13")
	// step emits one k step into accumulator set s, B's row at bRow,
	// A's values disp bytes past R13.
	step := func(s int, bRow string, disp int) {
		for v := 0; v < vecs; v++ {
			p("VMOVUPS %d%s, %s%d", v*size, bRow, reg, bRegs[(s*vecs+v)%len(bRegs)])
		}
		for i, r := range rowRegs {
			br := bcastRegs[i%len(bcastRegs)]
			at := fmt.Sprintf("(%s)(R13*1)", r)
			if disp != 0 {
				at = fmt.Sprintf("%d%s", disp, at)
			}
			p("VBROADCASTSS %s, %s%d", at, reg, br)
			for v := 0; v < vecs; v++ {
				p("VFMADD231PS %s%d, %s%d, %s%d", reg, br, reg, bRegs[(s*vecs+v)%len(bRegs)], reg, s*mr*vecs+i*vecs+v)
			}
		}
	}
	if sets == 1 {
		startLoop(name, reg, mr, vecs)
		step(0, "(DI)", 0)
		p("ADDQ $4, R13")
		p("ADDQ BX, DI")
		p("DECQ CX")
		p("JNZ %s_loop", name)
	} else {
		for i := 0; i < 2*mr*vecs; i++ {
			p("VXORPS %s%d, %s%d, %s%d", reg, i, reg, i, reg, i)
		}
		p("SHRQ $1, CX")
		p("JEQ %s_tail", name)
		label(name + "_loop")
		step(0, "(DI)", 0)
		step(1, "(DI)(BX*1)", 4)
		p("ADDQ $8, R13")
		p("LEAQ (DI)(BX*2), DI")
		p("DECQ CX")
		p("JNZ %s_loop", name)
		label(name + "_tail")
		p("MOVQ k+0(FP), CX")
		p("ANDQ $1, CX")
		p("JEQ %s_sum", name)
		step(0, "(DI)", 0)
		label(name + "_sum")
		for i := 0; i < mr*vecs; i++ {
			p("VADDPS %s%d, %s%d, %s%d", reg, mr*vecs+i, reg, i, reg, i)
		}
	}
	label(name + "_epilogue")
	p("MOVQ c+40(FP), AX")
	p("MOVQ ldc+48(FP), R12")
	p("SHLQ $2, R12")
	storeC(name, reg, mr, vecs, alphaReg, betaReg, 56)
}

// dotKernel emits the AVX-512 4x6 "NT" kernel: C[i][j] = sum_p A[i][p]*B[j][p]
// with both operands contiguous along p. Lanes accumulate 16 values of p;
// the horizontal sums are taken once at the end.
// Accumulator for (i, j) is Z(4*j+i); A rows in Z24..Z27; B rows rotate in Z28..Z31.
func dotKernel(name string) {
	fmt.Fprintf(&out, "// func %s(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-64\n", name)
	p("MOVQ k+0(FP), CX")
	p("MOVQ a+8(FP), SI")
	p("MOVQ lda+16(FP), R8")
	p("MOVQ b+24(FP), DI")
	p("MOVQ ldb+32(FP), BX")
	p("MOVQ c+40(FP), AX")
	p("MOVQ ldc+48(FP), R12")
	p("SHLQ $2, R8")
	p("SHLQ $2, BX")
	p("SHLQ $2, R12")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (BX)(BX*2), R10")
	p("LEAQ (BX)(BX*4), R11")
	for i := 0; i < 24; i++ {
		p("VXORPS Z%d, Z%d, Z%d", i, i, i)
	}
	// R13 = remainder mask for the last partial step; CX = full steps.
	p("MOVQ CX, R13")
	p("ANDQ $15, R13")
	p("SHRQ $4, CX")
	p("JEQ %s_tail", name)
	body := func(suffix string) {
		for i := 0; i < 4; i++ {
			p("VMOVUPS%s %s, %sZ%d", suffix, rowAddr(i, "SI", "R8", "R9", "", ""), maskOp(suffix), 24+i)
		}
		for j := 0; j < 6; j++ {
			br := 28 + j%4
			p("VMOVUPS%s %s, %sZ%d", suffix, rowAddr(j, "DI", "BX", "R10", "R11", ""), maskOp(suffix), br)
			for i := 0; i < 4; i++ {
				p("VFMADD231PS Z%d, Z%d, Z%d", br, 24+i, 4*j+i)
			}
		}
	}
	label(name + "_loop")
	body("")
	p("ADDQ $64, SI")
	p("ADDQ $64, DI")
	p("DECQ CX")
	p("JNZ %s_loop", name)
	label(name + "_tail")
	p("TESTQ R13, R13")
	p("JEQ %s_reduce", name)
	// Masked loads zero the lanes past k and never fault on them.
	p("MOVQ $1, DX")
	p("MOVQ R13, CX")
	p("SHLQ CX, DX")
	p("DECQ DX")
	p("KMOVW DX, K1")
	body(".Z")
	label(name + "_reduce")
	// Fold each zmm accumulator to a ymm.
	for i := 0; i < 24; i++ {
		p("VEXTRACTF64X4 $1, Z%d, Y24", i)
		p("VADDPS Y24, Y%d, Y%d", i, i)
	}
	p("VBROADCASTSS alpha+56(FP), X30")
	p("VBROADCASTSS beta+60(FP), X31")
	p("MOVL beta+60(FP), R13")
	p("ANDL $0x7fffffff, R13")
	// hadd is VHADDPS (VEX only, so no Y16..Y31) built from EVEX shuffles:
	// per 128-bit lane, dst = [x0+x1, x2+x3, y0+y1, y2+y3]. t1, t2 are scratch.
	hadd := func(w string, x, y, dst, t1, t2 int) {
		p("VSHUFPS $0x88, %s%d, %s%d, %s%d", w, y, w, x, w, t1)
		p("VSHUFPS $0xDD, %s%d, %s%d, %s%d", w, y, w, x, w, t2)
		p("VADDPS %s%d, %s%d, %s%d", w, t2, w, t1, w, dst)
	}
	for i := 0; i < 4; i++ {
		// Columns 0..3 of row i -> X24.
		hadd("Y", i, 4+i, 24, 26, 27)
		hadd("Y", 8+i, 12+i, 25, 26, 27)
		hadd("Y", 24, 25, 24, 26, 27)
		p("VEXTRACTF32X4 $1, Y24, X25")
		p("VADDPS X25, X24, X24")
		p("VMULPS X30, X24, X24")
		// Columns 4, 5 -> low two lanes of X26.
		hadd("Y", 16+i, 20+i, 26, 28, 29)
		p("VEXTRACTF32X4 $1, Y26, X27")
		p("VADDPS X27, X26, X26")
		hadd("X", 26, 26, 26, 28, 29)
		p("VMULPS X30, X26, X26")
		p("TESTL R13, R13")
		p("JEQ %s_store%d", name, i)
		p("VMOVUPS (AX), X25")
		p("VFMADD231PS X25, X31, X24")
		p("VMOVSD 16(AX), X27")
		p("VFMADD231PS X27, X31, X26")
		label(fmt.Sprintf("%s_store%d", name, i))
		p("VMOVUPS X24, (AX)")
		p("VMOVSD X26, 16(AX)")
		p("ADDQ R12, AX")
	}
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// packKernel emits a copy of k rows of `vecs` vectors each from a strided
// source to a contiguous destination (a B panel), four rows per iteration.
func packKernel(name, reg string, lanes, vecs int) {
	size := lanes * 4
	fmt.Fprintf(&out, "// func %s(k int, src *float32, ld int, dst *float32)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	p("MOVQ k+0(FP), CX")
	p("MOVQ src+8(FP), SI")
	p("MOVQ ld+16(FP), BX")
	p("MOVQ dst+24(FP), DI")
	p("SHLQ $2, BX")
	p("LEAQ (BX)(BX*2), R9")
	p("MOVQ CX, DX")
	p("SHRQ $2, CX")
	p("ANDQ $3, DX")
	p("TESTQ CX, CX")
	p("JEQ %s_rest", name)
	label(name + "_loop4")
	for r := 0; r < 4; r++ {
		for v := 0; v < vecs; v++ {
			p("VMOVUPS %d%s, %s%d", v*size, rowAddr(r, "SI", "BX", "R9", "", ""), reg, r*vecs+v)
		}
	}
	for r := 0; r < 4; r++ {
		for v := 0; v < vecs; v++ {
			p("VMOVUPS %s%d, %d(DI)", reg, r*vecs+v, (r*vecs+v)*size)
		}
	}
	p("LEAQ (SI)(BX*4), SI")
	p("ADDQ $%d, DI", 4*vecs*size)
	p("DECQ CX")
	p("JNZ %s_loop4", name)
	label(name + "_rest")
	p("TESTQ DX, DX")
	p("JEQ %s_done", name)
	label(name + "_loop1")
	for v := 0; v < vecs; v++ {
		p("VMOVUPS %d(SI), %s%d", v*size, reg, v)
		p("VMOVUPS %s%d, %d(DI)", reg, v, v*size)
	}
	p("ADDQ BX, SI")
	p("ADDQ $%d, DI", vecs*size)
	p("DECQ DX")
	p("JNZ %s_loop1", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// transposePrologue starts a transpose kernel: CX blocks, SI the first of
// 16 rows (R8 = 4*ld, R9 = 3 rows, R10 = 5 rows, R11 = 7 rows), R12 the
// ninth row, DI the panel; it ends at the loop's label.
func transposePrologue(name string) {
	fmt.Fprintf(&out, "// func %s(blocks int, src *float32, ld int, dst *float32)\n", name)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-32\n", name)
	p("MOVQ blocks+0(FP), CX")
	p("MOVQ src+8(FP), SI")
	p("MOVQ ld+16(FP), R8")
	p("MOVQ dst+24(FP), DI")
	p("SHLQ $2, R8")
	p("LEAQ (R8)(R8*2), R9")
	p("LEAQ (R8)(R8*4), R10")
	p("LEAQ (R9)(R8*4), R11")
	p("LEAQ (SI)(R8*8), R12")
	p("TESTQ CX, CX")
	p("JEQ %s_done", name)
	label(name + "_loop")
}

// transposeRow returns the address of row r (0..15) of a transpose's
// source, bytes past its start: SI or R12 plus a multiple of the stride.
func transposeRow(r, bytes int) string {
	base := "SI"
	if r >= 8 {
		base = "R12"
	}
	addr := rowAddr(r%8, base, "R8", "R9", "R10", "R11")
	if bytes != 0 {
		addr = fmt.Sprint(bytes) + addr
	}
	return addr
}

// transposeKernel emits packT32AVX512: it transposes 16 rows of B^T (row
// stride ld) into a B panel with rows of 32 floats, 16 columns of K at a time:
// dst[p*32+j] = src[j*ld+p] for j < 16, p < 16*blocks.
func transposeKernel(name string) {
	transposePrologue(name)
	for r := 0; r < 16; r++ {
		p("VMOVUPS %s, Z%d", transposeRow(r, 0), r)
	}
	// The classic 4-stage AVX-512 16x16 transpose; r = Z0..Z15, t = Z16..Z31.
	for i := 0; i < 8; i++ {
		p("VUNPCKLPS Z%d, Z%d, Z%d", 2*i+1, 2*i, 16+2*i)
		p("VUNPCKHPS Z%d, Z%d, Z%d", 2*i+1, 2*i, 16+2*i+1)
	}
	for i := 0; i < 4; i++ {
		t := 16 + 4*i
		p("VUNPCKLPD Z%d, Z%d, Z%d", t+2, t, 4*i)
		p("VUNPCKHPD Z%d, Z%d, Z%d", t+2, t, 4*i+1)
		p("VUNPCKLPD Z%d, Z%d, Z%d", t+3, t+1, 4*i+2)
		p("VUNPCKHPD Z%d, Z%d, Z%d", t+3, t+1, 4*i+3)
	}
	for h := 0; h < 2; h++ {
		for i := 0; i < 4; i++ {
			p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", 8*h+i+4, 8*h+i, 16+8*h+i)
			p("VSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", 8*h+i+4, 8*h+i, 16+8*h+i+4)
		}
	}
	for i := 0; i < 8; i++ {
		p("VSHUFF32X4 $0x88, Z%d, Z%d, Z%d", 16+i+8, 16+i, i)
		p("VSHUFF32X4 $0xdd, Z%d, Z%d, Z%d", 16+i+8, 16+i, i+8)
	}
	for r := 0; r < 16; r++ {
		p("VMOVUPS Z%d, %d(DI)", r, r*128)
	}
	p("ADDQ $64, SI")
	p("ADDQ $64, R12")
	p("ADDQ $2048, DI")
	p("DECQ CX")
	p("JNZ %s_loop", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// transposeKernelAVX2 emits packT16AVX2: it transposes 16 rows of B^T (row
// stride ld) into a B panel with rows of 16 floats, 16 columns of K at a
// time: dst[p*16+j] = src[j*ld+p] for j < 16, p < 16*blocks. Each block is
// four 8x8 transposes (rows 0-7 and 8-15, columns 0-7 and 8-15) in the
// classic 3-stage AVX form; r = Y0..Y7, t = Y8..Y15.
func transposeKernelAVX2(name string) {
	transposePrologue(name)
	for q := 0; q < 2; q++ { // columns 8q..8q+7 of K
		for g := 0; g < 2; g++ { // rows 8g..8g+7
			for r := 0; r < 8; r++ {
				p("VMOVUPS %s, Y%d", transposeRow(8*g+r, 32*q), r)
			}
			for i := 0; i < 4; i++ {
				p("VUNPCKLPS Y%d, Y%d, Y%d", 2*i+1, 2*i, 8+2*i)
				p("VUNPCKHPS Y%d, Y%d, Y%d", 2*i+1, 2*i, 8+2*i+1)
			}
			// u0..u3 (Y0..Y3): columns 0..3 (low lane) and 4..7 (high lane)
			// of rows 0-3; u4..u7 (Y4..Y7) the same of rows 4-7.
			for h := 0; h < 2; h++ {
				t := 8 + 4*h
				p("VSHUFPS $0x44, Y%d, Y%d, Y%d", t+2, t, 4*h)
				p("VSHUFPS $0xee, Y%d, Y%d, Y%d", t+2, t, 4*h+1)
				p("VSHUFPS $0x44, Y%d, Y%d, Y%d", t+3, t+1, 4*h+2)
				p("VSHUFPS $0xee, Y%d, Y%d, Y%d", t+3, t+1, 4*h+3)
			}
			for c := 0; c < 4; c++ {
				p("VPERM2F128 $0x20, Y%d, Y%d, Y%d", c+4, c, 8+c)
				p("VPERM2F128 $0x31, Y%d, Y%d, Y%d", c+4, c, 12+c)
			}
			for c := 0; c < 8; c++ {
				p("VMOVUPS Y%d, %d(DI)", 8+c, (8*q+c)*64+32*g)
			}
		}
	}
	p("ADDQ $64, SI")
	p("ADDQ $64, R12")
	p("ADDQ $1024, DI")
	p("DECQ CX")
	p("JNZ %s_loop", name)
	label(name + "_done")
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

func maskOp(suffix string) string {
	if suffix == "" {
		return ""
	}
	return "K1, "
}

func main() {
	out.WriteString("// Code generated by gen_kernels.go; DO NOT EDIT.\n\n")
	out.WriteString("//go:build amd64 && !purego\n\n")
	out.WriteString("#include \"textflag.h\"\n\n")
	// Each outer kernel comes twice: B rows a stride apart, and B rows at
	// offsets (indirect, for convolutions over a padded input in place).
	for _, indirect := range []bool{false, true} {
		suffix := ""
		if indirect {
			suffix = "Rows"
		}
		// AVX-512: 8 rows x 32 columns = 16 zmm accumulators.
		outerKernel("kernel8x32"+suffix+"AVX512", "Z", 16, 8, 2, []int{16, 17, 18, 19, 20, 21, 22, 23}, []int{30, 31}, 28, 29, indirect)
		// AVX2: 6 rows x 16 columns = 12 ymm accumulators, 2 for B, 2 for A.
		outerKernel("kernel6x16"+suffix+"AVX2", "Y", 8, 6, 2, []int{14, 15}, []int{12, 13}, 14, 15, indirect)
		// The last 4 or 2 rows of a panel of A (16, 32 and 64 rows leave 4, 2
		// and 4 after the 6-row panels): fewer rows, the same columns.
		outerKernel("kernel4x16"+suffix+"AVX2", "Y", 8, 4, 2, []int{14, 15}, []int{12, 13}, 14, 15, indirect)
		outerKernel("kernel2x16"+suffix+"AVX2", "Y", 8, 2, 2, []int{14, 15}, []int{12, 13}, 14, 15, indirect)
	}
	// A at row offsets (the weight gradient's runs), B packed.
	aRowsKernel("kernel8x32ARowsAVX512", "Z", 16, 8, 2, 1, []int{16, 17, 18, 19, 20, 21, 22, 23}, []int{30, 31}, 28, 29)
	// Half as wide, for the 16 output channels of a CIFAR ResNet's first
	// stage, whose weight gradient would waste half of a 32-column tile.
	aRowsKernel("kernel8x16ARowsAVX512", "Z", 16, 8, 1, 2, []int{16, 17, 18, 19, 20, 21, 22, 23}, []int{30, 31}, 28, 29)
	aRowsKernel("kernel6x16ARowsAVX2", "Y", 8, 6, 2, 1, []int{14, 15}, []int{12, 13}, 14, 15)
	dotKernel("dot4x6AVX512")
	packKernel("pack32AVX512", "Z", 16, 2)
	transposeKernel("packT32AVX512")
	packKernel("pack16AVX2", "Y", 8, 2)
	transposeKernelAVX2("packT16AVX2")
	if err := os.WriteFile("kernel_amd64.s", out.Bytes(), 0o644); err != nil {
		panic(err)
	}
}
