package layers

import (
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// plannable is an op whose output buffer PlanMemory may assign.
type plannable interface {
	workspaceOf() *workspace
}

func (o *convOp) workspaceOf() *workspace           { return &o.ws }
func (o *convGrad) workspaceOf() *workspace         { return &o.ws }
func (o *batchNormOp) workspaceOf() *workspace      { return &o.ws }
func (o *bnGradInput) workspaceOf() *workspace      { return &o.ws }
func (o *bnGradRow) workspaceOf() *workspace        { return &o.ws }
func (o *reluOp) workspaceOf() *workspace           { return &o.ws }
func (o *reluGrad) workspaceOf() *workspace         { return &o.ws }
func (o *linearOp) workspaceOf() *workspace         { return &o.ws }
func (o *linearGrad) workspaceOf() *workspace       { return &o.ws }
func (o *planeOp) workspaceOf() *workspace          { return &o.ws }
func (o *planeGrad) workspaceOf() *workspace        { return &o.ws }
func (o *crossEntropyGrad) workspaceOf() *workspace { return &o.ws }

// MemoryPlan reports what PlanMemory arranged.
type MemoryPlan struct {
	Outputs       int   // op outputs given a shared buffer
	Buffers       int   // distinct buffers
	Bytes         int64 // their total size
	UnplanBytes   int64 // what the same outputs take with a buffer each
	Deferred      int   // batch norms whose output is never written (see PlanMemory)
	DeferredGrads int   // batch norms whose input gradient is never written (see PlanMemory)
	InConv        int   // batch norms that the convolution before them applies in evaluation mode (see PlanMemory)
}

// PlanMemory lets the outputs of this package's ops in g share buffers, the
// way a register allocator shares registers: Gorgonia's tape machine gives
// every node its own value, so without a plan a training graph holds every
// activation and every gradient at once. PlanMemory replays the order in
// which the tape machine runs g (its topological sort), finds for each
// output the last instruction that reads it, and hands a buffer to a new
// output only once every earlier owner is dead. Call it once the graph is
// complete (after G.Grad), before running it; keep lists nodes whose values
// are read after a run (logits, for the training error), which are never
// shared. Stock ops that overwrite or view an input extend that input's life
// to their own.
//
// A float32 batch norm with its ReLU (no residual) whose output only
// stride-1 3x3-style convolutions read, and which keep does not list, is
// deferred: it writes no output, and the convolutions, which copy their
// input into padded chunks anyway, normalize it as they copy (its output
// node's value is then its input's). Its input lives as long as its output
// would have. Likewise the gradient op of a float32 batch norm whose input
// gradient only 3x3 convolutions' gradient ops read (stride 1 or 2) writes
// none: they make it from the batch norm's output gradient and input as
// they lay out their output gradient, and both live as long as the input
// gradient would have. And a float32 batch norm with a residual whose input
// is a convolution's output that nothing else reads (nor keep lists), and
// whose residual runs before that convolution, takes that output's buffer:
// in evaluation mode the convolution normalizes each chunk of images as
// soon as it has written it, and the batch norm writes nothing; in
// training mode the batch norm normalizes in place.
func PlanMemory(g *G.ExprGraph, keep ...*G.Node) (MemoryPlan, error) {
	sorted, err := G.Sort(g)
	if err != nil {
		return MemoryPlan{}, errors.Wrap(err, "PlanMemory")
	}
	order := make(G.Nodes, len(sorted))
	for i, n := range sorted { // Sort puts roots first; the machine runs leaves first.
		order[len(sorted)-1-i] = n
	}
	pos := make(map[*G.Node]int, len(order))
	for i, n := range order {
		pos[n] = i
	}
	// root maps a node to the node whose buffer it may share (itself, or the
	// input a stock op overwrites or views).
	root := make(map[*G.Node]*G.Node, len(order))
	end := make(map[*G.Node]int, len(order))
	find := func(n *G.Node) *G.Node {
		for root[n] != nil && root[n] != n {
			n = root[n]
		}
		return n
	}
	var plan MemoryPlan
	kept := make(map[*G.Node]bool, len(keep))
	for _, n := range keep {
		kept[n] = true
	}
	clearDeferrals(order)
	deferBatchNorms(g, order, kept)
	deferGradients(g, order, kept)
	applyNormsInConvs(g, order, pos, kept)
	for i, n := range order {
		root[n] = n
		end[n] = i
		op := n.Op()
		if op == nil {
			continue
		}
		// A deferred output is its input's buffer; it counts as one unplanned.
		if in := deferredAlias(op); in >= 0 {
			root[n] = find(inputs(g, n)[in])
			switch op := op.(type) {
			case *bnGradInput:
				plan.DeferredGrads++
			case *batchNormOp:
				if op.byConv {
					plan.InConv++
				} else {
					plan.Deferred++
				}
			}
			plan.UnplanBytes += int64(n.Shape().TotalSize()) * int64(n.Dtype().Size())
			continue
		}
		if _, ours := op.(plannable); ours {
			continue
		}
		kids := inputs(g, n)
		alias := op.OverwritesInput()
		if op.ReturnsPtr() && alias < 0 {
			alias = 0
		}
		if alias >= 0 && alias < len(kids) {
			root[n] = find(kids[alias])
		}
	}
	for i, n := range order {
		parents := g.To(n.ID())
		for parents.Next() {
			p := parents.Node().(*G.Node)
			r := find(n)
			end[r] = max(end[r], pos[p], i)
		}
		r := find(n)
		end[r] = max(end[r], end[n])
	}
	for _, n := range order { // a deferred dx's x is read where dx would have been
		if gi, ok := n.Op().(*bnGradInput); ok && gi.deferred {
			x := find(inputs(g, n)[0])
			end[x] = max(end[x], end[find(n)])
		}
	}
	for _, n := range keep {
		end[find(n)] = len(order)
	}

	// Greedy best fit, in execution order: an output takes the free buffer
	// (of its dtype) closest to its size, or a new one.
	type buffer struct {
		dt   tensor.Dtype
		size int
		free int // the last instruction that reads its current owner
	}
	var buffers []*buffer
	owner := map[*G.Node]*buffer{}
	for i, n := range order {
		if _, ok := n.Op().(plannable); !ok || find(n) != n {
			continue
		}
		dt, shape := n.Dtype(), n.Shape()
		if dt != tensor.Float32 && dt != tensor.Float64 || shape.IsScalar() {
			continue
		}
		size := shape.TotalSize()
		var best *buffer
		for _, b := range buffers {
			if b.dt == dt && b.free < i && (best == nil || abs(b.size-size) < abs(best.size-size)) {
				best = b
			}
		}
		if best == nil {
			best = &buffer{dt: dt}
			buffers = append(buffers, best)
		}
		best.size = max(best.size, size)
		best.free = end[n]
		owner[n] = best
		plan.Outputs++
		plan.UnplanBytes += int64(size) * int64(dt.Size())
	}
	backing := make(map[*buffer]any, len(buffers))
	for _, b := range buffers {
		if b.dt == tensor.Float32 {
			backing[b] = make([]float32, b.size)
		} else {
			backing[b] = make([]float64, b.size)
		}
		plan.Buffers++
		plan.Bytes += int64(b.size) * int64(b.dt.Size())
	}
	for n, b := range owner {
		size := n.Shape().TotalSize()
		var back any
		switch s := backing[b].(type) {
		case []float32:
			back = s[:size]
		case []float64:
			back = s[:size]
		}
		n.Op().(plannable).workspaceOf().planned = tensor.New(tensor.WithShape(n.Shape()...), tensor.WithBacking(back))
	}
	return plan, nil
}

// inputs returns n's inputs, in order.
func inputs(g *G.ExprGraph, n *G.Node) G.Nodes {
	children := g.From(n.ID())
	var kids G.Nodes
	for children.Next() {
		kids = append(kids, children.Node().(*G.Node))
	}
	return kids
}

// deferBatchNorms marks the batch norms whose outputs PlanMemory defers,
// and the convolutions that read them.
func deferBatchNorms(g *G.ExprGraph, order G.Nodes, kept map[*G.Node]bool) {
	for _, n := range order {
		bn, ok := n.Op().(*batchNormOp)
		if !ok || !bn.relu || bn.residual || n.Dtype() != tensor.Float32 || kept[n] {
			continue
		}
		var convs []*convOp
		ok = eachReader(g, n, func(r *G.Node) bool {
			var fwd *convOp
			switch op := r.Op().(type) {
			case *convOp:
				fwd = op
			case *convGrad:
				fwd = op.fwd
			}
			if fwd == nil || !fwd.geom.shifted() || fwd.geom.sh != 1 || inputs(g, r)[0] != n {
				return false
			}
			convs = append(convs, fwd)
			return true
		})
		if !ok || len(convs) == 0 {
			continue
		}
		bn.deferred = true
		for _, c := range convs {
			c.norm = bn
		}
	}
}

// deferGradients marks the batch norms' gradient ops whose outputs
// PlanMemory defers, and the convolution gradient ops that read them.
func deferGradients(g *G.ExprGraph, order G.Nodes, kept map[*G.Node]bool) {
	for _, n := range order {
		gi, ok := n.Op().(*bnGradInput)
		if !ok || n.Dtype() != tensor.Float32 || kept[n] {
			continue
		}
		var convs []*convGrad
		ok = eachReader(g, n, func(r *G.Node) bool {
			switch op := r.Op().(type) {
			case *bnGradRow: // reads dx's shape only
				return true
			case *convGrad:
				convs = append(convs, op)
				return op.fwd.geom.shifted() && inputs(g, r)[2] == n
			}
			return false
		})
		if !ok || len(convs) == 0 {
			continue
		}
		gi.deferred = true
		for _, c := range convs {
			c.dyNorm = gi
		}
	}
}

// applyNormsInConvs marks the batch norms with a residual that the
// convolution before them applies in evaluation mode (see
// batchNormOp.byConv), and those convolutions: those whose residual the
// tape machine computes before the convolution (pos is where each node
// runs; a projection or subsampling shortcut may run after it).
func applyNormsInConvs(g *G.ExprGraph, order G.Nodes, pos map[*G.Node]int, kept map[*G.Node]bool) {
	for _, n := range order {
		bn, ok := n.Op().(*batchNormOp)
		if !ok || !bn.residual || n.Dtype() != tensor.Float32 {
			continue
		}
		args := inputs(g, n)
		x := args[0]
		conv, ok := x.Op().(*convOp)
		if !ok || kept[x] || pos[args[3]] > pos[x] || !eachReader(g, x, func(r *G.Node) bool { return r == n }) {
			continue
		}
		bn.byConv = true
		conv.then, conv.thenArgs = bn, args[1:]
	}
}

// deferredAlias returns which input's buffer a deferred op's output is:
// a batch norm's x, a batch-norm gradient's dy; -1 for any other op.
func deferredAlias(op G.Op) int {
	switch op := op.(type) {
	case *batchNormOp:
		if op.deferred || op.byConv {
			return 0
		}
	case *bnGradInput:
		if op.deferred {
			return 2
		}
	}
	return -1
}

// clearDeferrals undoes what deferBatchNorms, deferGradients and
// applyNormsInConvs marked, so that a graph planned again is marked afresh.
func clearDeferrals(order G.Nodes) {
	for _, n := range order {
		switch op := n.Op().(type) {
		case *batchNormOp:
			op.deferred, op.byConv = false, false
		case *bnGradInput:
			op.deferred = false
		case *convOp:
			op.norm, op.then, op.thenArgs = nil, nil, nil
		case *convGrad:
			op.dyNorm = nil
		}
	}
}

// eachReader calls f on each node that reads n while f returns true, and
// reports whether it did to the last.
func eachReader(g *G.ExprGraph, n *G.Node, f func(r *G.Node) bool) bool {
	readers := g.To(n.ID())
	for readers.Next() {
		if !f(readers.Node().(*G.Node)) {
			return false
		}
	}
	return true
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
