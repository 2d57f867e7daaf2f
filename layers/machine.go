package layers

import (
	"runtime"

	"github.com/gorgonia-zoo/resnet/internal/parallel"
	"github.com/gorgonia-zoo/resnet/internal/vec"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// NewMachine returns Gorgonia's tape machine for g, built with opts, whose
// values use this package's tensor engine: Gorgonia's StandardEngine, but
// for the sums of gradients, which it runs on all cores. (Where a node
// feeds two ops, as a residual block's input feeds its first convolution
// and its shortcut, Gorgonia adds the two gradients with its stock Add op,
// which calls the engine of its operands: StandardEngine's is one loop on
// one core, about 6 ms of a ResNet-20 training step at batch 128 that the
// other cores sat out.) Close the machine with CloseMachine.
func NewMachine(g *G.ExprGraph, opts ...G.VMOpt) G.VM {
	return G.NewTapeMachine(g, append([]G.VMOpt{G.WithEngine(engine)}, opts...)...)
}

// CloseMachine closes vm and removes the finalizer Gorgonia sets on every
// tape machine (it releases CUDA contexts, nothing on the CPU). An object
// with a finalizer, and all it reaches, outlives the collection that finds
// it unreachable; without the finalizer one collection frees the machine
// and its graph's buffers.
func CloseMachine(vm G.VM) error {
	err := vm.Close()
	runtime.SetFinalizer(vm, nil)
	return err
}

// sumEngine is the tensor engine of NewMachine: the tape machine sets it on
// every value it holds, and the stock Add op dispatches to it.
type sumEngine struct{ G.StandardEngine }

// engine is the one sumEngine.
var engine tensor.Engine = sumEngine{}

// gradientSum names the engine's sums in the op profile.
var gradientSum = opBase{name: "GradientSum"}

// Add returns a + b: into a with tensor.UseUnsafe, into the reuse tensor
// with tensor.WithReuse, else into a new tensor. Dense float tensors of one
// shape are summed on the workers; anything else (broadcasts, views,
// masks, tensor.WithIncr) goes to StandardEngine.
func (e sumEngine) Add(a, b tensor.Tensor, opts ...tensor.FuncOpt) (tensor.Tensor, error) {
	x, y, dst := sumOperands(a, b, opts)
	if dst == nil {
		return e.StandardEngine.Add(a, b, opts...)
	}
	defer gradientSum.timed()()
	if dst.Dtype() == tensor.Float32 {
		sumParallel(data[float32](dst), data[float32](x), data[float32](y))
	} else {
		sumParallel(data[float64](dst), data[float64](x), data[float64](y))
	}
	return dst, nil
}

// sumOperands returns a and b as flat tensors and where their sum goes, or
// a nil destination when the call is not one sumEngine computes itself.
func sumOperands(a, b tensor.Tensor, opts []tensor.FuncOpt) (x, y, dst *tensor.Dense) {
	x, okA := a.(*tensor.Dense)
	y, okB := b.(*tensor.Dense)
	if !okA || !okB || !flatFloat(x) || !flatFloat(y) || x.Dtype() != y.Dtype() || !x.Shape().Eq(y.Shape()) {
		return nil, nil, nil
	}
	fo := tensor.ParseFuncOpts(opts...)
	switch reuse := fo.Reuse(); {
	case fo.Incr() != nil:
		return nil, nil, nil
	case reuse != nil:
		r, ok := reuse.(*tensor.Dense)
		if !ok || !flatFloat(r) || r.Dtype() != x.Dtype() || !r.Shape().Eq(x.Shape()) {
			return nil, nil, nil
		}
		return x, y, r
	case !fo.Safe():
		return x, y, x
	}
	return x, y, tensor.New(tensor.WithEngine(engine), tensor.Of(x.Dtype()), tensor.WithShape(x.Shape().Clone()...))
}

// flatFloat reports whether t is a float tensor whose data is its elements
// in order, one each: not a view, not masked.
func flatFloat(t *tensor.Dense) bool {
	dt := t.Dtype()
	return (dt == tensor.Float32 || dt == tensor.Float64) && !t.IsView() && !t.IsMasked() &&
		t.DataSize() == t.Shape().TotalSize()
}

// sumParallel sets dst = a + b, on the workers when the sum is long
// enough to be worth waking them: the gradients of activations are (524,288
// values in a CIFAR net's last stage at batch 128); a CIFAR net's parameter
// gradients, which the machine also adds into their accumulators, are not
// (36,864 at most).
func sumParallel[T float](dst, a, b []T) {
	if len(dst) < 1<<16 {
		vec.Add(dst, a, b)
		return
	}
	parallel.For(len(dst), func(_, lo, hi int) { vec.Add(dst[lo:hi], a[lo:hi], b[lo:hi]) })
}
