//go:build ignore

// gen_kernels writes kernels_amd64.s, the AVX2 versions of the float32
// passes of vec.go. Every kernel is the same loop over rows (n rows of m
// floats, ld floats apart; for the padKernels, rows of different strides
// in and out) with the same three inner loops (unrolled vectors, single
// vectors, one masked partial vector), around a different body, so the
// loops are generated once rather than typed out per kernel.
//
// Run with: go generate ./internal/vec
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, "\t"+format+"\n", args...) }
func label(name string)            { fmt.Fprintf(&out, "%s:\n", name) }

// Fixed registers of every kernel. Y15 holds the partial vector's lane
// mask; the bodies use Y0..Y14.
const (
	rows   = "CX"  // rows left
	rowLen = "DX"  // m
	stride = "BX"  // ld in bytes
	offset = "R9"  // byte offset inside the row
	left   = "R10" // floats of the row left
	mask   = "Y15"
)

// ptrRegs hold the operands' row starts, in the order of kernel.ptrs, and
// nextRegs the next rows' (for the prefetches; R11 and R12 are free again
// for the partial vector's mask, after the last prefetch of the row).
var (
	ptrRegs  = []string{"SI", "DI", "R8"}
	nextRegs = []string{"AX", "R11", "R12"}
)

func y(i int) string { return fmt.Sprintf("Y%d", i) }

// vecOp is how a body reaches memory: load or store one vector of operand
// ptr at byte offset off from the current position, masked in the partial
// vector (masked loads read zeros and never fault past the end).
type vecOp struct {
	k      *kernel
	off    int
	masked bool
}

func (o vecOp) addr(ptr string) string {
	return fmt.Sprintf("%d(%s)(%s*1)", o.off, ptrRegs[o.k.ptrIndex(ptr)], offset)
}

func (o vecOp) load(ptr string, dst int) {
	if o.masked {
		p("VMASKMOVPS %s, %s, %s", o.addr(ptr), mask, y(dst))
		return
	}
	p("VMOVUPS %s, %s", o.addr(ptr), y(dst))
}

func (o vecOp) store(src int, ptr string) {
	if o.masked {
		p("VMASKMOVPS %s, %s, %s", y(src), mask, o.addr(ptr))
		return
	}
	p("VMOVUPS %s, %s", y(src), o.addr(ptr))
}

// kernel describes one generated function.
type kernel struct {
	name    string
	ptrs    []string       // pointer arguments, first in the signature
	scalars map[string]int // float32 arguments after n, m, ld, and the register each is broadcast to
	order   []string       // the scalars in signature order
	unroll  int            // vectors per iteration of the main loop
	// reduce: the kernel returns two float64 sums, accumulated per row in
	// float32 registers acc[0] (unroll of them from there) and acc[1], and
	// folded at the end of each row into float64 registers wide[0], wide[1].
	reduce    bool
	acc, wide [2]int
	// prefetch: the main loop prefetches the same columns of the next row.
	// The rows of a channel are short runs (a page or less) a plane apart,
	// and the hardware prefetchers, which follow a stream within a page,
	// start afresh at every row; this keeps the next row coming while the
	// current one is worked on (30% faster on 32x32 and 16x16 planes).
	prefetch    bool
	zero        int // register set to zero at entry, or -1
	body        func(o vecOp, v int)
	description string
}

func (k *kernel) ptrIndex(name string) int {
	for i, n := range k.ptrs {
		if n == name {
			return i
		}
	}
	panic("no pointer " + name + " in " + k.name)
}

// frame returns the Go declaration of the kernel (for the comment), the
// offsets of its arguments and results as the Go ABI0 lays them out, and
// the size of them all.
func (k *kernel) frame() (decl string, argOff map[string]int, size int) {
	argOff = map[string]int{}
	var params []string
	off := 0
	for _, n := range k.ptrs {
		argOff[n] = off
		off += 8
	}
	params = append(params, strings.Join(k.ptrs, ", ")+" *float32")
	for _, n := range []string{"n", "m", "ld"} {
		argOff[n] = off
		off += 8
	}
	params = append(params, "n, m, ld int")
	if len(k.order) > 0 {
		for _, n := range k.order {
			argOff[n] = off
			off += 4
		}
		params = append(params, strings.Join(k.order, ", ")+" float32")
	}
	decl = fmt.Sprintf("func %s(%s)", k.name, strings.Join(params, ", "))
	if k.reduce {
		off = (off + 7) &^ 7
		argOff["sumA"], argOff["sumB"] = off, off+8
		off += 16
		decl += " (sumA, sumB float64)"
	}
	return decl, argOff, off
}

func (k *kernel) emit() {
	decl, argOff, size := k.frame()
	fmt.Fprintf(&out, "// %s\n//\n// %s\n", decl, k.description)
	fmt.Fprintf(&out, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", k.name, size)
	for i, n := range k.ptrs {
		p("MOVQ %s+%d(FP), %s", n, argOff[n], ptrRegs[i])
	}
	p("MOVQ n+%d(FP), %s", argOff["n"], rows)
	p("MOVQ m+%d(FP), %s", argOff["m"], rowLen)
	p("MOVQ ld+%d(FP), %s", argOff["ld"], stride)
	p("SHLQ $2, %s", stride)
	for _, n := range k.order {
		p("VBROADCASTSS %s+%d(FP), %s", n, argOff[n], y(k.scalars[n]))
	}
	if k.zero >= 0 {
		p("VXORPS %s, %s, %s", y(k.zero), y(k.zero), y(k.zero))
	}
	if k.reduce {
		for _, w := range k.wide {
			p("VXORPD %s, %s, %s", y(w), y(w), y(w))
		}
	}
	p("TESTQ %s, %s", rows, rows)
	p("JEQ %s_done", k.name)
	label(k.name + "_row")
	if k.prefetch {
		for i := range k.ptrs {
			p("LEAQ (%s)(%s*1), %s", ptrRegs[i], stride, nextRegs[i])
		}
	}
	if k.reduce {
		for _, a := range k.acc {
			for v := 0; v < k.unroll; v++ {
				p("VXORPS %s, %s, %s", y(a+v), y(a+v), y(a+v))
			}
		}
	}
	p("XORQ %s, %s", offset, offset)
	p("MOVQ %s, %s", rowLen, left)
	step := 8 * k.unroll
	label(k.name + "_loop")
	p("CMPQ %s, $%d", left, step)
	p("JLT %s_single", k.name)
	for v := 0; v < k.unroll; v++ {
		k.body(vecOp{k: k, off: 32 * v}, v)
	}
	if k.prefetch {
		for i := range k.ptrs {
			for line := 0; line < 32*k.unroll; line += 64 {
				p("PREFETCHT0 %d(%s)(%s*1)", line, nextRegs[i], offset)
			}
		}
	}
	p("ADDQ $%d, %s", 4*step, offset)
	p("SUBQ $%d, %s", step, left)
	p("JMP %s_loop", k.name)
	label(k.name + "_single")
	p("CMPQ %s, $8", left)
	p("JLT %s_partial", k.name)
	k.body(vecOp{k: k}, 0)
	p("ADDQ $32, %s", offset)
	p("SUBQ $8, %s", left)
	p("JMP %s_single", k.name)
	label(k.name + "_partial")
	p("TESTQ %s, %s", left, left)
	p("JEQ %s_rowend", k.name)
	// Lanes 0..left-1 on: the mask table's 8 ones end 4*left bytes
	// before its 8 zeros start.
	p("LEAQ tailmask<>+32(SB), R11")
	p("MOVQ %s, R12", left)
	p("SHLQ $2, R12")
	p("SUBQ R12, R11")
	p("VMOVDQU (R11), %s", mask)
	k.body(vecOp{k: k, masked: true}, 0)
	label(k.name + "_rowend")
	if k.reduce {
		// Fold the row's float32 sums into the float64 ones: 8 lanes to 4,
		// widened. Register a+1, added in already, serves as the temporary.
		for i, a := range k.acc {
			for v := 1; v < k.unroll; v++ {
				p("VADDPS %s, %s, %s", y(a+v), y(a), y(a))
			}
			p("VEXTRACTF128 $1, %s, X%d", y(a), a+1)
			p("VADDPS X%d, X%d, X%d", a+1, a, a)
			p("VCVTPS2PD X%d, %s", a, y(a+1))
			p("VADDPD %s, %s, %s", y(a+1), y(k.wide[i]), y(k.wide[i]))
		}
	}
	for i := range k.ptrs {
		p("ADDQ %s, %s", stride, ptrRegs[i])
	}
	p("DECQ %s", rows)
	p("JNZ %s_row", k.name)
	label(k.name + "_done")
	if k.reduce {
		for i, w := range k.wide {
			p("VEXTRACTF128 $1, %s, X0", y(w))
			p("VADDPD X0, X%d, X0", w)
			p("VHADDPD X0, X0, X0")
			name := []string{"sumA", "sumB"}[i]
			p("VMOVSD X0, %s+%d(FP)", name, argOff[name]) // VEX: no SSE/AVX transition
		}
	}
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// relu sets r = max(r, 0) as Go's max does: a NaN stays NaN (VMAXPS returns
// its second source when either is NaN) and -0 becomes +0 (-0 + +0 = +0).
func relu(r, zero int) {
	p("VMAXPS %s, %s, %s", y(r), y(zero), y(r))
	p("VADDPS %s, %s, %s", y(zero), y(r), y(r))
}

// gate sets r to dy masked where the fused ReLU of the forward pass output
// zero: t = x*scale + shift as Affine computes it, and the ReLU passed the
// gradient unless t <= 0 (so a NaN passes, as through max(t, 0)).
func gate(o vecOp, x, r, scale, shift, zero, tmp int) {
	p("VMULPS %s, %s, %s", y(scale), y(x), y(r))
	p("VADDPS %s, %s, %s", y(shift), y(r), y(r))
	p("VCMPPS $0x16, %s, %s, %s", y(zero), y(r), y(r)) // NLE_UQ: !(t <= 0)
	o.load("dy", tmp)
	p("VANDPS %s, %s, %s", y(tmp), y(r), y(r))
}

func kernels() []*kernel {
	var ks []*kernel
	// Moments: Y0-3 sums of d, Y4-7 sums of d^2, Y8-11 d, Y12/13 float64.
	ks = append(ks, &kernel{
		name: "momentsAVX2", ptrs: []string{"x"}, order: []string{"shift"}, scalars: map[string]int{"shift": 14},
		unroll: 4, reduce: true, acc: [2]int{0, 4}, wide: [2]int{12, 13}, zero: -1, prefetch: true,
		description: "sumA = sum(d), sumB = sum(d*d), d = x - shift, over n rows of m floats ld apart.",
		body: func(o vecOp, v int) {
			d := 8 + v
			o.load("x", d)
			p("VSUBPS Y14, %s, %s", y(d), y(d))
			if o.masked {
				p("VANDPS %s, %s, %s", mask, y(d), y(d)) // lanes past the end: 0, not -shift
			}
			p("VADDPS %s, %s, %s", y(d), y(v), y(v))
			p("VFMADD231PS %s, %s, %s", y(d), y(d), y(4+v))
		},
	})
	// Affine, and affine plus a residual r: Y0-3 values, Y4-7 r, Y12
	// scale, Y13 shift, Y14 zero.
	for _, withAdd := range []bool{false, true} {
		for _, withReLU := range []bool{false, true} {
			name, desc := "affineAVX2", "dst = x*scale + shift (the product rounded), over n rows of m floats ld apart."
			ptrs := []string{"dst", "x"}
			switch {
			case withAdd && withReLU:
				name, desc = "affineAddReLUAVX2", "dst = max(x*scale + shift + r, 0), each step rounded, then Go's max."
			case withAdd:
				name, desc = "affineAddAVX2", "dst = x*scale + shift + r, each step rounded."
			case withReLU:
				name, desc = "affineReLUAVX2", "dst = max(x*scale + shift, 0), as affineAVX2 then Go's max."
			}
			if withAdd {
				ptrs = append(ptrs, "r")
			}
			ks = append(ks, &kernel{
				name: name, ptrs: ptrs, order: []string{"scale", "shift"}, scalars: map[string]int{"scale": 12, "shift": 13},
				unroll: 4, zero: 14, prefetch: true, description: desc,
				body: func(o vecOp, v int) {
					o.load("x", v)
					p("VMULPS Y12, %s, %s", y(v), y(v))
					p("VADDPS Y13, %s, %s", y(v), y(v))
					if withAdd {
						o.load("r", 4+v)
						p("VADDPS %s, %s, %s", y(4+v), y(v), y(v))
					}
					if withReLU {
						relu(v, 14)
					}
					o.store(v, "dst")
				},
			})
		}
	}
	// Gradient sums: Y0-1 sums of g, Y2-3 of g*(x-center), Y4-7 x and g
	// of each vector, Y8/9 float64, Y10 scale, Y11 shift, Y12 center, Y13
	// zero, Y14 a temporary.
	for _, withReLU := range []bool{false, true} {
		name, desc := "gradSumsAVX2", "sumA = sum(dy), sumB = sum(dy*(x-center)), over n rows of m floats ld apart."
		if withReLU {
			name, desc = "gradSumsReLUAVX2", "gradSumsAVX2 with dy zeroed where x*scale + shift <= 0 (the forward ReLU's zeros)."
		}
		k := &kernel{
			name: name, ptrs: []string{"dy", "x"}, order: []string{"center"}, scalars: map[string]int{"center": 12},
			unroll: 2, reduce: true, acc: [2]int{0, 2}, wide: [2]int{8, 9}, zero: -1, prefetch: true, description: desc,
			body: func(o vecOp, v int) {
				x, g := 4+2*v, 5+2*v
				o.load("x", x)
				if withReLU {
					gate(o, x, g, 10, 11, 13, 14) // one temporary serves both vectors: it dies inside gate
				} else {
					o.load("dy", g)
				}
				p("VSUBPS Y12, %s, %s", y(x), y(x))
				p("VADDPS %s, %s, %s", y(g), y(v), y(v))
				p("VFMADD231PS %s, %s, %s", y(g), y(x), y(2+v))
			},
		}
		if withReLU {
			k.order = []string{"scale", "shift", "center"}
			k.scalars = map[string]int{"scale": 10, "shift": 11, "center": 12}
			k.zero = 13
		}
		ks = append(ks, k)
	}
	// Input gradient: per vector x, g and a temporary in Y(3v)..Y(3v+2);
	// Y6 scale, Y7 shift, Y8 k, Y9 c1, Y10 center, Y11 c0, Y12 zero.
	for _, withReLU := range []bool{false, true} {
		name, desc := "gradInputAVX2", "dx = k*dy + c1*(x-center) + c0, each product rounded, summed left to right."
		if withReLU {
			name, desc = "gradInputReLUAVX2", "gradInputAVX2 with dy zeroed where x*scale + shift <= 0 (the forward ReLU's zeros)."
		}
		k := &kernel{
			name: name, ptrs: []string{"dx", "dy", "x"}, order: []string{"k", "c1", "center", "c0"},
			scalars: map[string]int{"k": 8, "c1": 9, "center": 10, "c0": 11},
			unroll:  2, zero: -1, prefetch: true, description: desc,
			body: func(o vecOp, v int) {
				x, g, t := 3*v, 3*v+1, 3*v+2
				o.load("x", x)
				if withReLU {
					gate(o, x, g, 6, 7, 12, t)
				} else {
					o.load("dy", g)
				}
				p("VMULPS Y8, %s, %s", y(g), y(g))
				p("VSUBPS Y10, %s, %s", y(x), y(x))
				p("VMULPS Y9, %s, %s", y(x), y(x))
				p("VADDPS %s, %s, %s", y(x), y(g), y(g))
				p("VADDPS Y11, %s, %s", y(g), y(g))
				o.store(g, "dx")
			},
		}
		if withReLU {
			k.order = []string{"scale", "shift", "k", "c1", "center", "c0"}
			k.scalars["scale"], k.scalars["shift"] = 6, 7
			k.zero = 12
		}
		ks = append(ks, k)
	}
	// ReLU, sum, residual add + ReLU, ReLU gradient: flat, one row (a stream
	// the hardware prefetchers follow). Y0-3 values, Y4-7 second operands,
	// Y14 zero.
	ks = append(ks, &kernel{
		name: "reluAVX2", ptrs: []string{"dst", "a"}, unroll: 4, zero: 14,
		description: "dst = max(a, 0), Go's max.",
		body: func(o vecOp, v int) {
			o.load("a", v)
			relu(v, 14)
			o.store(v, "dst")
		},
	})
	ks = append(ks, &kernel{
		name: "addAVX2", ptrs: []string{"dst", "a", "b"}, unroll: 4, zero: -1,
		description: "dst = a + b.",
		body: func(o vecOp, v int) {
			o.load("a", v)
			o.load("b", 4+v)
			p("VADDPS %s, %s, %s", y(4+v), y(v), y(v))
			o.store(v, "dst")
		},
	})
	ks = append(ks, &kernel{
		name: "addReLUAVX2", ptrs: []string{"dst", "a", "b"}, unroll: 4, zero: 14,
		description: "dst = max(a + b, 0), Go's max.",
		body: func(o vecOp, v int) {
			o.load("a", v)
			o.load("b", 4+v)
			p("VADDPS %s, %s, %s", y(4+v), y(v), y(v))
			relu(v, 14)
			o.store(v, "dst")
		},
	})
	ks = append(ks, &kernel{
		name: "keepPositiveAVX2", ptrs: []string{"dst", "y", "dy"}, unroll: 4, zero: 14,
		description: "dst = dy & positiveMask(y): the sign of -bits(y), as an int32, spread over the lane.",
		body: func(o vecOp, v int) {
			o.load("y", v)
			o.load("dy", 4+v)
			p("VPSUBD %s, Y14, %s", y(v), y(v))
			p("VPSRAD $31, %s, %s", y(v), y(v))
			p("VANDPS %s, %s, %s", y(4+v), y(v), y(v))
			o.store(v, "dst")
		},
	})
	return ks
}

func main() {
	out.WriteString("// Code generated by gen_kernels.go; DO NOT EDIT.\n\n")
	out.WriteString("//go:build amd64 && !purego\n\n")
	out.WriteString("#include \"textflag.h\"\n\n")
	// tailmask: 8 lanes on, 8 off; a window of 8 starting at lane 8-r has
	// the first r on.
	for i := 0; i < 16; i++ {
		v := "0xffffffff"
		if i >= 8 {
			v = "0x00000000"
		}
		fmt.Fprintf(&out, "DATA tailmask<>+%d(SB)/4, $%s\n", 4*i, v)
	}
	out.WriteString("GLOBL tailmask<>(SB), RODATA|NOPTR, $64\n\n")
	for _, k := range kernels() {
		k.emit()
	}
	for _, k := range padKernels() {
		k.emit()
	}
	emitDealRows()
	if err := os.WriteFile("kernels_amd64.s", out.Bytes(), 0o644); err != nil {
		panic(err)
	}
}

// padKernel is one of the kernels that lay rows out as a convolution's
// padded chunks do: n rows of m floats, ldSrc apart in each source, become
// rows ldDst apart in dst, each after lead zeros, unroll vectors at a time,
// then single vectors, then a masked partial one. vector loads, computes
// and stores the v-th vector of an iteration, at byte off of the row (AX)
// in the sources and in dst (R12); masked, under the tail mask Y15.
type padKernel struct {
	name, doc string
	sources   []string // pointer arguments after dst: in SI, then R13
	scalars   []string // float32 arguments after ldSrc ...
	regs      []int    // ... broadcast to these registers
	zero      int      // a register set to zero, or -1
	unroll    int
	vector    func(v, off int, masked bool)
}

// vload loads the vector at off(base)(AX) into Y(dst).
func vload(base string, off, dst int, masked bool) {
	if masked {
		p("VMASKMOVPS %d(%s)(AX*1), Y15, Y%d", off, base, dst)
		return
	}
	p("VMOVUPS %d(%s)(AX*1), Y%d", off, base, dst)
}

// vstore stores Y(src) at off(R12)(AX).
func vstore(src, off int, masked bool) {
	if masked {
		p("VMASKMOVPS Y%d, Y15, %d(R12)(AX*1)", src, off)
		return
	}
	p("VMOVUPS Y%d, %d(R12)(AX*1)", src, off)
}

func (k padKernel) emit() {
	srcRegs := []string{"SI", "R13"}[:len(k.sources)]
	fmt.Fprintf(&out, "// func %s(dst, %s *float32, n, m, lead, ldDst, ldSrc int", k.name, strings.Join(k.sources, ", "))
	if len(k.scalars) > 0 {
		fmt.Fprintf(&out, ", %s float32", strings.Join(k.scalars, ", "))
	}
	ints := 8 * (1 + len(k.sources))
	fmt.Fprintf(&out, ")\n//\n// %s\nTEXT ·%s(SB), NOSPLIT, $0-%d\n", k.doc, k.name, ints+40+4*len(k.scalars))
	p("MOVQ dst+0(FP), DI")
	for i, src := range k.sources {
		p("MOVQ %s+%d(FP), %s", src, 8*(1+i), srcRegs[i])
	}
	for i, arg := range []string{"n", "m", "lead", "ldDst", "ldSrc"} {
		p("MOVQ %s+%d(FP), %s", arg, ints+8*i, []string{"CX", "DX", "R10", "R8", "R9"}[i])
	}
	for i, sc := range k.scalars {
		p("VBROADCASTSS %s+%d(FP), Y%d", sc, ints+40+4*i, k.regs[i])
	}
	if k.zero >= 0 {
		p("VXORPS Y%d, Y%d, Y%d", k.zero, k.zero, k.zero)
	}
	p("SHLQ $2, R8")
	p("SHLQ $2, R9")
	p("MOVQ DX, AX") // Y15: the mask of a row's last m%8 floats
	p("ANDQ $7, AX")
	p("SHLQ $2, AX")
	p("LEAQ tailmask<>+32(SB), R11")
	p("SUBQ AX, R11")
	p("VMOVDQU (R11), Y15")
	p("TESTQ CX, CX")
	p("JEQ %s_done", k.name)
	label(k.name + "_row")
	p("XORQ AX, AX")
	label(k.name + "_lead") // lead zeros, then the row from R12
	p("CMPQ AX, R10")
	p("JGE %s_copy", k.name)
	p("MOVL $0, (DI)(AX*4)")
	p("INCQ AX")
	p("JMP %s_lead", k.name)
	label(k.name + "_copy")
	p("LEAQ (DI)(R10*4), R12")
	p("XORQ AX, AX")
	p("MOVQ DX, BX")
	label(k.name + "_unrolled")
	p("CMPQ BX, $%d", 8*k.unroll)
	p("JLT %s_single", k.name)
	for v := 0; v < k.unroll; v++ {
		k.vector(v, 32*v, false)
	}
	p("ADDQ $%d, AX", 32*k.unroll)
	p("SUBQ $%d, BX", 8*k.unroll)
	p("JMP %s_unrolled", k.name)
	label(k.name + "_single")
	p("CMPQ BX, $8")
	p("JLT %s_partial", k.name)
	k.vector(0, 0, false)
	p("ADDQ $32, AX")
	p("SUBQ $8, BX")
	p("JMP %s_single", k.name)
	label(k.name + "_partial")
	p("TESTQ BX, BX")
	p("JEQ %s_next", k.name)
	k.vector(0, 0, true)
	label(k.name + "_next")
	p("ADDQ R8, DI")
	for _, r := range srcRegs {
		p("ADDQ R9, %s", r)
	}
	p("DECQ CX")
	p("JNE %s_row", k.name)
	label(k.name + "_done")
	p("VZEROUPPER")
	p("RET")
	out.WriteString("\n")
}

// padKernels are copyRowsAVX2; padRowsAffineReLUAVX2, which writes
// max(x*scale + shift, 0) as affineReLUAVX2 computes it (a batch norm's
// output, made as a convolution lays out its input); and
// padRowsGradInputAVX2 and padRowsGradInputReLUAVX2, which write from dy
// and x what gradInputAVX2 and gradInputReLUAVX2 write (a batch norm's
// input gradient, made as a convolution lays out its output gradient),
// each with the same instructions as the kernel it stands for.
func padKernels() []padKernel {
	ks := []padKernel{{
		name: "copyRowsAVX2", doc: "Copies the rows of src (see padKernel in gen_kernels.go).",
		sources: []string{"src"}, zero: -1, unroll: 4,
		vector: func(v, off int, masked bool) {
			vload("SI", off, v, masked)
			vstore(v, off, masked)
		},
	}, {
		name: "padRowsAffineReLUAVX2", doc: "Writes max(x*scale + shift, 0) for the x of src, as affineReLUAVX2 (see padKernel in gen_kernels.go).",
		sources: []string{"src"}, scalars: []string{"scale", "shift"}, regs: []int{12, 13}, zero: 14, unroll: 4,
		vector: func(v, off int, masked bool) {
			vload("SI", off, v, masked)
			p("VMULPS Y12, Y%d, Y%d", v, v)
			p("VADDPS Y13, Y%d, Y%d", v, v)
			relu(v, 14)
			vstore(v, off, masked)
		},
	}}
	// Per vector x, dy and a temporary in Y(3v)..Y(3v+2); Y6 scale, Y7
	// shift, Y8 k, Y9 c1, Y10 center, Y11 c0, Y12 zero, as in gradInputAVX2.
	for _, withReLU := range []bool{false, true} {
		k := padKernel{
			name: "padRowsGradInputAVX2", doc: "Writes gradInputAVX2's dx for the dy and x of the rows (see padKernel in gen_kernels.go).",
			sources: []string{"dy", "x"}, scalars: []string{"k", "c1", "center", "c0"}, regs: []int{8, 9, 10, 11}, zero: -1, unroll: 2,
		}
		if withReLU {
			k.name, k.doc = "padRowsGradInputReLUAVX2", "Writes gradInputReLUAVX2's dx for the dy and x of the rows (see padKernel in gen_kernels.go)."
			k.scalars, k.regs, k.zero = append([]string{"scale", "shift"}, k.scalars...), append([]int{6, 7}, k.regs...), 12
		}
		k.vector = func(v, off int, masked bool) {
			x, g, t := 3*v, 3*v+1, 3*v+2
			vload("R13", off, x, masked)
			if withReLU {
				p("VMULPS Y6, Y%d, Y%d", x, g)
				p("VADDPS Y7, Y%d, Y%d", g, g)
				p("VCMPPS $0x16, Y12, Y%d, Y%d", g, g) // NLE_UQ: !(t <= 0)
				vload("SI", off, t, masked)
				p("VANDPS Y%d, Y%d, Y%d", t, g, g)
			} else {
				vload("SI", off, g, masked)
			}
			p("VMULPS Y8, Y%d, Y%d", g, g)
			p("VSUBPS Y10, Y%d, Y%d", x, x)
			p("VMULPS Y9, Y%d, Y%d", x, x)
			p("VADDPS Y%d, Y%d, Y%d", x, g, g)
			p("VADDPS Y11, Y%d, Y%d", g, g)
			vstore(g, off, masked)
		}
		ks = append(ks, k)
	}
	return ks
}

// emitDealRows writes dealRowsAVX2, the whole 16-value blocks of
// vec.DealRows: per block, two loads, the even and the odd lanes of each
// 128-bit half (VSHUFPS), the halves' 64-bit pairs put in order (VPERMPD),
// and a store each (the odd one only when b is not nil).
func emitDealRows() {
	out.WriteString("// func dealRowsAVX2(a, b, src *float32, n, blocks, ldDst, ldSrc int)\n//\n")
	out.WriteString("// Deals blocks*16 values of each of n rows of src to a and b (see DealRows).\n")
	out.WriteString("TEXT ·dealRowsAVX2(SB), NOSPLIT, $0-56\n")
	p("MOVQ a+0(FP), DI")
	p("MOVQ b+8(FP), R8")
	p("MOVQ src+16(FP), SI")
	p("MOVQ n+24(FP), CX")
	p("MOVQ blocks+32(FP), DX")
	p("MOVQ ldDst+40(FP), R9")
	p("MOVQ ldSrc+48(FP), R10")
	p("SHLQ $2, R9")
	p("SHLQ $2, R10")
	p("TESTQ CX, CX")
	p("JEQ dealRows_done")
	p("TESTQ DX, DX")
	p("JEQ dealRows_done")
	label("dealRows_row")
	p("XORQ AX, AX") // byte offset in the source row
	p("XORQ BX, BX") // and in the destination rows
	p("MOVQ DX, R11")
	label("dealRows_block")
	p("VMOVUPS (SI)(AX*1), Y0")
	p("VMOVUPS 32(SI)(AX*1), Y1")
	p("VSHUFPS $0x88, Y1, Y0, Y2") // per half: Y0's lanes 0, 2, Y1's 0, 2
	p("VPERMPD $0xD8, Y2, Y2")     // 64-bit pairs 0, 2, 1, 3
	p("VMOVUPS Y2, (DI)(BX*1)")
	p("TESTQ R8, R8")
	p("JEQ dealRows_next")
	p("VSHUFPS $0xDD, Y1, Y0, Y3") // lanes 1, 3
	p("VPERMPD $0xD8, Y3, Y3")
	p("VMOVUPS Y3, (R8)(BX*1)")
	label("dealRows_next")
	p("ADDQ $64, AX")
	p("ADDQ $32, BX")
	p("DECQ R11")
	p("JNE dealRows_block")
	p("ADDQ R10, SI")
	p("ADDQ R9, DI")
	p("TESTQ R8, R8")
	p("JEQ dealRows_nob")
	p("ADDQ R9, R8")
	label("dealRows_nob")
	p("DECQ CX")
	p("JNE dealRows_row")
	label("dealRows_done")
	p("VZEROUPPER")
	p("RET")
}
