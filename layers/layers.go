package layers

import (
	"fmt"
	"math"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BatchNorm's hyper-parameters, PyTorch's defaults.
const (
	BNMomentum = 0.1
	BNEpsilon  = 1e-5
)

// Info describes one layer built through a Scope, for model summaries.
type Info struct {
	Name   string       // full name, e.g. "layer1.0.conv1"
	Kind   string       // "conv3x3/s1", "bn", "linear", ...
	Out    tensor.Shape // output shape
	Params int          // learnable scalars
	MACs   int64        // multiply-accumulates for one input image
}

// record appends a layer's Info to the scope tree's log.
func (s *Scope) record(name, kind string, out tensor.Shape, params int, macsPerImage int64) {
	*s.infos = append(*s.infos, Info{Name: s.Name(name), Kind: kind, Out: out.Clone(), Params: params, MACs: macsPerImage})
}

// Infos returns what was built through the scope tree, in order.
func (s *Scope) Infos() []Info { return *s.infos }

func checkRank(x *G.Node, rank int, layer string) error {
	if x.Shape().Dims() != rank {
		return errors.Errorf("%s: input %v has shape %v, want %d dimensions", layer, x.Name(), x.Shape(), rank)
	}
	return nil
}

// Conv2d convolves x (N,Cin,H,W) with a bias-free weight called name+".weight"
// of shape (cout, Cin, k, k), with the given stride and zero padding. The
// weight starts as torchvision's ResNets start theirs: Kaiming normal,
// fan_out mode, gain for ReLU.
func Conv2d(s *Scope, name string, x *G.Node, cout, k, stride, pad int) (*G.Node, error) {
	if err := checkRank(x, 4, s.Name(name)); err != nil {
		return nil, err
	}
	if cout <= 0 || k <= 0 || stride <= 0 || pad < 0 {
		return nil, errors.Errorf("%s: bad convolution: %d outputs, kernel %d, stride %d, padding %d", s.Name(name), cout, k, stride, pad)
	}
	cin := x.Shape()[1]
	w, err := s.param(name+".weight", tensor.Shape{cout, cin, k, k}, kaimingNormalFanOut(cout*k*k))
	if err != nil {
		return nil, err
	}
	op := newConvOp(convGeom{kh: k, kw: k, sh: stride, sw: stride, ph: pad, pw: pad})
	y, err := G.ApplyOp(op, x, w)
	if err != nil {
		return nil, errors.Wrap(err, s.Name(name))
	}
	out := y.Shape()
	s.record(name, fmt.Sprintf("conv%dx%d/s%d", k, k, stride), out, cout*cin*k*k, int64(out[1]*out[2]*out[3]*cin*k*k))
	return y, nil
}

// BNOptions tunes BatchNorm2d.
type BNOptions struct {
	// ReLU applies a ReLU to the output inside the same op.
	ReLU bool
	// ZeroGamma starts gamma at 0 instead of 1: the last BN of a residual
	// branch then makes the block start as the identity (zero-init-residual).
	ZeroGamma bool
}

// BatchNorm2d normalizes x (N,C,H,W) per channel with learnable name+".weight"
// (gamma) and name+".bias" (beta), and keeps name+".running_mean",
// ".running_var" and ".num_batches_tracked" in the State. The scope's Mode
// chooses batch or running statistics at every run. It is
// NewBatchNorm2d(s, name, C, opt) applied to x.
func BatchNorm2d(s *Scope, name string, x *G.Node, opt BNOptions) (*G.Node, error) {
	if err := checkRank(x, 4, s.Name(name)); err != nil {
		return nil, err
	}
	bn, err := NewBatchNorm2d(s, name, x.Shape()[1], opt)
	if err != nil {
		return nil, err
	}
	return bn.Apply(x)
}

// BatchNorm is a batch norm whose tensors exist in a Scope's State but
// which is not yet applied to an input: a residual block creates its last
// batch norm's tensors before its shortcut's, in torchvision's order, and
// applies it after the shortcut exists, fused with the addition.
type BatchNorm struct {
	s                 *Scope
	name              string
	channels          int
	opt               BNOptions
	gamma, beta       *G.Node
	runMean, runVar   *tensor.Dense
	numBatchesTracked *tensor.Dense
	info              int // its entry in the scope tree's Infos, whose Out apply fills in
}

// NewBatchNorm2d creates the tensors of a batch norm over the given
// channels (see BatchNorm2d) and returns it unapplied.
func NewBatchNorm2d(s *Scope, name string, channels int, opt BNOptions) (*BatchNorm, error) {
	bn := &BatchNorm{s: s, name: name, channels: channels, opt: opt}
	shape := tensor.Shape{channels}
	gammaInit := constant(1)
	if opt.ZeroGamma {
		gammaInit = constant(0)
	}
	var err error
	if bn.gamma, err = s.param(name+".weight", shape, gammaInit); err != nil {
		return nil, err
	}
	if bn.beta, err = s.param(name+".bias", shape, constant(0)); err != nil {
		return nil, err
	}
	if bn.runMean, err = s.buffer(name+".running_mean", s.dtype, shape, constant(0)); err != nil {
		return nil, err
	}
	if bn.runVar, err = s.buffer(name+".running_var", s.dtype, shape, constant(1)); err != nil {
		return nil, err
	}
	if bn.numBatchesTracked, err = s.buffer(name+".num_batches_tracked", tensor.Int64, tensor.ScalarShape(), nil); err != nil {
		return nil, err
	}
	// Listed where its tensors are created, as torchvision lists modules.
	bn.info = len(*s.infos)
	s.record(name, "bn", nil, 2*channels, 0)
	return bn, nil
}

// Apply normalizes x, then applies the ReLU if the options ask for it.
// Apply a BatchNorm once per graph: each application updates its running
// statistics.
func (bn *BatchNorm) Apply(x *G.Node) (*G.Node, error) {
	name := "BatchNorm"
	if bn.opt.ReLU {
		name = "BatchNormReLU"
	}
	return bn.apply(name, x)
}

// AddReLU is max(bn(x) + residual, 0): a residual block's last batch norm,
// its addition and its ReLU in one pass over memory, giving the bits of
// Apply followed by the AddReLU function. The batch norm must not have the
// ReLU option.
func (bn *BatchNorm) AddReLU(x, residual *G.Node) (*G.Node, error) {
	if bn.opt.ReLU {
		return nil, errors.Errorf("%s: AddReLU of a batch norm made with the ReLU option, which would apply a ReLU before the addition", bn.s.Name(bn.name))
	}
	if err := checkRank(residual, 4, bn.s.Name(bn.name)); err != nil {
		return nil, err
	}
	return bn.apply("BatchNormAddReLU", x, residual)
}

func (bn *BatchNorm) apply(opName string, x *G.Node, residual ...*G.Node) (*G.Node, error) {
	if err := checkRank(x, 4, bn.s.Name(bn.name)); err != nil {
		return nil, err
	}
	if c := x.Shape()[1]; c != bn.channels {
		return nil, errors.Errorf("%s: input has %d channels, the batch norm %d", bn.s.Name(bn.name), c, bn.channels)
	}
	op := &batchNormOp{opBase: newOpBase(opName), mode: bn.s.mode, momentum: BNMomentum, eps: BNEpsilon,
		relu: bn.opt.ReLU || len(residual) > 0, residual: len(residual) > 0,
		runMean: bn.runMean, runVar: bn.runVar, numBatchesTracked: bn.numBatchesTracked}
	y, err := G.ApplyOp(op, append([]*G.Node{x, bn.gamma, bn.beta}, residual...)...)
	if err != nil {
		return nil, errors.Wrap(err, bn.s.Name(bn.name))
	}
	(*bn.s.infos)[bn.info].Out = y.Shape()
	return y, nil
}

// ReLU is max(x, 0) for a 4-D x.
func ReLU(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(&reluOp{opBase: newOpBase("ReLU"), arity: 1}, x)
}

// AddReLU is max(a+b, 0): a residual block's addition and final ReLU in one
// op. When a is a batch norm's output, BatchNorm.AddReLU does both in one op.
func AddReLU(a, b *G.Node) (*G.Node, error) {
	return G.ApplyOp(&reluOp{opBase: newOpBase("AddReLU"), arity: 2}, a, b)
}

// GlobalAvgPool averages each channel: (N,C,H,W) -> (N,C).
func GlobalAvgPool(x *G.Node) (*G.Node, error) {
	if err := checkRank(x, 4, "GlobalAvgPool"); err != nil {
		return nil, err
	}
	return G.ApplyOp(globalAvgPoolOp(), x)
}

// Linear maps x (N,in) to x W^T + b with name+".weight" (out,in) and
// name+".bias" (out), laid out and initialized as PyTorch's nn.Linear.
func Linear(s *Scope, name string, x *G.Node, out int) (*G.Node, error) {
	if err := checkRank(x, 2, s.Name(name)); err != nil {
		return nil, err
	}
	in := x.Shape()[1]
	bound := 1 / math.Sqrt(float64(in))
	w, err := s.param(name+".weight", tensor.Shape{out, in}, uniformBound(bound))
	if err != nil {
		return nil, err
	}
	b, err := s.param(name+".bias", tensor.Shape{out}, uniformBound(bound))
	if err != nil {
		return nil, err
	}
	y, err := G.ApplyOp(&linearOp{opBase: newOpBase("Linear")}, x, w, b)
	if err != nil {
		return nil, errors.Wrap(err, s.Name(name))
	}
	s.record(name, "linear", y.Shape(), out*in+out, int64(out*in))
	return y, nil
}

// MaxPool2d takes the maximum over k x k windows with the given stride and
// padding, as the ImageNet stem does (k 3, stride 2, padding 1).
func MaxPool2d(s *Scope, name string, x *G.Node, k, stride, pad int) (*G.Node, error) {
	if err := checkRank(x, 4, s.Name(name)); err != nil {
		return nil, err
	}
	if k <= 0 || stride <= 0 || pad < 0 || 2*pad > k {
		return nil, errors.Errorf("%s: max pooling window %d, stride %d, padding %d: want a positive window and stride and padding at most half the window", s.Name(name), k, stride, pad)
	}
	y, err := G.ApplyOp(maxPoolOp(poolGeom{k, stride, pad}), x)
	if err != nil {
		return nil, errors.Wrap(err, s.Name(name))
	}
	s.record(name, fmt.Sprintf("maxpool%dx%d/s%d", k, k, stride), y.Shape(), 0, 0)
	return y, nil
}

// ShortcutA is the paper's parameter-free option-A shortcut for a block that
// subsamples by stride and widens to cout channels: x[:, :, ::stride, ::stride]
// with the new channels zero-padded evenly on both sides.
func ShortcutA(x *G.Node, cout, stride int) (*G.Node, error) {
	if err := checkRank(x, 4, "ShortcutA"); err != nil {
		return nil, err
	}
	if stride <= 0 {
		return nil, errors.Errorf("ShortcutA: stride %d, want a positive stride", stride)
	}
	return G.ApplyOp(shortcutAOp(cout, stride), x)
}

// ShortcutB is the option-B projection shortcut, torchvision's downsample:
// a 1x1 convolution name+".0" with the given stride and a batch norm name+".1".
func ShortcutB(s *Scope, name string, x *G.Node, cout, stride int) (*G.Node, error) {
	y, err := Conv2d(s, name+".0", x, cout, 1, stride, 0)
	if err != nil {
		return nil, err
	}
	return BatchNorm2d(s, name+".1", y, BNOptions{})
}

// SoftmaxCrossEntropy is the mean over the batch of the cross-entropy between
// softmax(logits) and targets, both (B,K); targets are one-hot rows (or any
// distributions). It equals PyTorch's F.cross_entropy and is finite for any
// finite logits.
func SoftmaxCrossEntropy(logits, targets *G.Node) (*G.Node, error) {
	return G.ApplyOp(&softmaxCrossEntropyOp{opBase: newOpBase("SoftmaxCrossEntropy")}, logits, targets)
}

// Input makes a float32 graph input of the given shape backed by a new
// slice, which it returns: a caller fills the slice before each run instead
// of building a new tensor.
func Input(g *G.ExprGraph, name string, shape ...int) (*G.Node, []float32) {
	n := 1
	for _, s := range shape {
		n *= s
	}
	back := make([]float32, n)
	t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(back))
	return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t)), back
}
