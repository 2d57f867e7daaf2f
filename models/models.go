// Package models builds the ResNets of He et al. 2016 from the zoo's blocks:
// the CIFAR-10 ResNet-20/32/44/56/110/1202 with their plain twins, and the
// ImageNet ResNet-18/34/50/101/152 in torchvision's layout. Parameter names
// are torchvision's state_dict keys.
package models

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gorgonia-zoo/resnet/blocks"
	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Options change a model away from its published form.
type Options struct {
	// NumClasses is the width of the final linear layer; 0 means the
	// dataset's: 10 for the CIFAR models, 1000 for the ImageNet ones.
	NumClasses int
	// Shortcut overrides the shortcut of blocks that change shape: 0 means
	// option A for the CIFAR models and option B for the ImageNet ones.
	Shortcut blocks.Shortcut
	// ZeroInitResidual starts every residual block as the identity.
	ZeroInitResidual bool
	// StrideOnFirst1x1 puts a Bottleneck's stride on its first 1x1
	// convolution, as the paper did, instead of on the 3x3 (torchvision).
	StrideOnFirst1x1 bool
	// Dtype of the weights and activations: float32 unless set (float64 is
	// for gradient checks).
	Dtype tensor.Dtype
	// Seed makes initialization deterministic.
	Seed int64
}

// arch is a model's layout.
type arch struct {
	cifar  bool
	plain  bool
	stages []int // blocks per stage
	bottle bool  // Bottleneck blocks instead of BasicBlocks
}

// registry maps every model name to its layout.
var registry = map[string]arch{
	"resnet18":  {stages: []int{2, 2, 2, 2}},
	"resnet34":  {stages: []int{3, 4, 6, 3}},
	"resnet50":  {stages: []int{3, 4, 6, 3}, bottle: true},
	"resnet101": {stages: []int{3, 4, 23, 3}, bottle: true},
	"resnet152": {stages: []int{3, 8, 36, 3}, bottle: true},
}

func init() {
	for _, depth := range []int{20, 32, 44, 56, 110, 1202} {
		n := (depth - 2) / 6
		registry[fmt.Sprintf("resnet%d", depth)] = arch{cifar: true, stages: []int{n, n, n}}
		if depth != 1202 {
			registry[fmt.Sprintf("plain%d", depth)] = arch{cifar: true, plain: true, stages: []int{n, n, n}}
		}
	}
}

// Names returns every model name New accepts, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	// By family, then by depth: plain20 ... plain110, resnet18, resnet20, ...
	sort.Slice(names, func(i, j int) bool {
		fi, di := splitName(names[i])
		fj, dj := splitName(names[j])
		if fi != fj {
			return fi < fj
		}
		return di < dj
	})
	return names
}

// CIFARNames returns the names of the CIFAR-10 models (ResNet-20 to 1202 and
// their plain twins), sorted as Names sorts them: the models a CIFAR-10
// trainer accepts, without building any.
func CIFARNames() []string {
	var names []string
	for _, n := range Names() {
		if registry[n].cifar {
			names = append(names, n)
		}
	}
	return names
}

// splitName splits "resnet56" into "resnet" and 56.
func splitName(name string) (family string, depth int) {
	i := strings.IndexAny(name, "0123456789")
	fmt.Sscan(name[i:], &depth)
	return name[:i], depth
}

// Model is a network layout with its tensors (a State) and its train/eval
// switch. Build adds it to any graph; every graph built from one Model
// shares its tensors.
type Model struct {
	name  string
	arch  arch
	opts  Options
	state *layers.State
	mode  *layers.Mode
	infos []layers.Info
}

// New returns the model called name ("resnet20", "plain56", "resnet50", ...)
// with freshly initialized weights, in training mode.
func New(name string, opts Options) (*Model, error) {
	a, ok := registry[name]
	if !ok {
		return nil, errors.Errorf("unknown model %q; valid names: %s", name, strings.Join(Names(), ", "))
	}
	if opts.NumClasses == 0 {
		opts.NumClasses = 10
		if !a.cifar {
			opts.NumClasses = 1000
		}
	}
	if opts.NumClasses < 0 {
		return nil, errors.Errorf("%s: %d classes, want a positive number", name, opts.NumClasses)
	}
	if opts.Shortcut == 0 {
		opts.Shortcut = blocks.ShortcutB
		if a.cifar {
			opts.Shortcut = blocks.ShortcutA
		}
	}
	if opts.Dtype == (tensor.Dtype{}) {
		opts.Dtype = tensor.Float32
	}
	m := &Model{name: name, arch: a, opts: opts, state: layers.NewState(), mode: layers.NewMode(true)}
	// Building once on a one-image graph creates and initializes every tensor
	// in a fixed order, and records the layers for Summary.
	g := G.NewGraph()
	net, err := m.Build(g, G.NewTensor(g, opts.Dtype, 4, G.WithShape(append([]int{1}, m.InputShape()...)...), G.WithName("input")))
	if err != nil {
		return nil, err
	}
	m.infos = net.Layers
	return m, nil
}

// ResNet20 is the 20-layer CIFAR-10 ResNet (n = 3, 0.27M parameters).
func ResNet20(opts Options) (*Model, error) { return New("resnet20", opts) }

// ResNet32 is the 32-layer CIFAR-10 ResNet (n = 5).
func ResNet32(opts Options) (*Model, error) { return New("resnet32", opts) }

// ResNet44 is the 44-layer CIFAR-10 ResNet (n = 7).
func ResNet44(opts Options) (*Model, error) { return New("resnet44", opts) }

// ResNet56 is the 56-layer CIFAR-10 ResNet (n = 9).
func ResNet56(opts Options) (*Model, error) { return New("resnet56", opts) }

// ResNet110 is the 110-layer CIFAR-10 ResNet (n = 18).
func ResNet110(opts Options) (*Model, error) { return New("resnet110", opts) }

// ResNet1202 is the 1202-layer CIFAR-10 ResNet (n = 200, 19.4M parameters).
func ResNet1202(opts Options) (*Model, error) { return New("resnet1202", opts) }

// Plain20 is ResNet20's plain twin: the same layers without shortcuts.
func Plain20(opts Options) (*Model, error) { return New("plain20", opts) }

// Plain32 is ResNet32's plain twin.
func Plain32(opts Options) (*Model, error) { return New("plain32", opts) }

// Plain44 is ResNet44's plain twin.
func Plain44(opts Options) (*Model, error) { return New("plain44", opts) }

// Plain56 is ResNet56's plain twin.
func Plain56(opts Options) (*Model, error) { return New("plain56", opts) }

// Plain110 is ResNet110's plain twin.
func Plain110(opts Options) (*Model, error) { return New("plain110", opts) }

// ResNet18 is torchvision's resnet18: BasicBlocks [2, 2, 2, 2].
func ResNet18(opts Options) (*Model, error) { return New("resnet18", opts) }

// ResNet34 is torchvision's resnet34: BasicBlocks [3, 4, 6, 3].
func ResNet34(opts Options) (*Model, error) { return New("resnet34", opts) }

// ResNet50 is torchvision's resnet50: Bottlenecks [3, 4, 6, 3].
func ResNet50(opts Options) (*Model, error) { return New("resnet50", opts) }

// ResNet101 is torchvision's resnet101: Bottlenecks [3, 4, 23, 3].
func ResNet101(opts Options) (*Model, error) { return New("resnet101", opts) }

// ResNet152 is torchvision's resnet152: Bottlenecks [3, 8, 36, 3].
func ResNet152(opts Options) (*Model, error) { return New("resnet152", opts) }

// Name returns the model's name.
func (m *Model) Name() string { return m.name }

// Options returns the options the model was built with, defaults filled in.
func (m *Model) Options() Options { return m.opts }

// State returns the model's tensors under torchvision's names.
func (m *Model) State() *layers.State { return m.state }

// SetTraining switches every batch norm of every graph built from the model
// between batch statistics (training) and running statistics (evaluation).
// The running statistics are kept across switches.
func (m *Model) SetTraining(training bool) { m.mode.SetTraining(training) }

// Training reports whether the model is in training mode.
func (m *Model) Training() bool { return m.mode.Training() }

// CIFAR reports whether the model is one of the CIFAR-10 layouts.
func (m *Model) CIFAR() bool { return m.arch.cifar }

// InputShape is the (C, H, W) of the images the model was designed for:
// (3, 32, 32) for CIFAR, (3, 224, 224) for ImageNet. ImageNet models accept
// other sizes too.
func (m *Model) InputShape() []int {
	if m.arch.cifar {
		return []int{3, 32, 32}
	}
	return []int{3, 224, 224}
}

// NumParams returns the number of learnable scalars.
func (m *Model) NumParams() int { return m.state.NumLearnable() }

// Net is a model built into a graph.
type Net struct {
	Logits     *G.Node       // (N, classes)
	Learnables G.Nodes       // in a fixed order, the optimizer's order
	Layers     []layers.Info // what was built, for summaries
}

// Build adds the model to g on input x (N, 3, H, W) and returns its logits.
func (m *Model) Build(g *G.ExprGraph, x *G.Node) (*Net, error) {
	if x.Shape().Dims() != 4 || x.Shape()[1] != 3 {
		return nil, errors.Errorf("%s: input %v, want (N, 3, H, W)", m.name, x.Shape())
	}
	s := layers.NewScope(g, m.state, m.opts.Dtype, m.mode, m.opts.Seed)
	var out *G.Node
	var err error
	if m.arch.cifar {
		out, err = m.buildCIFAR(s, x)
	} else {
		out, err = m.buildImageNet(s, x)
	}
	if err != nil {
		return nil, errors.Wrap(err, m.name)
	}
	return &Net{Logits: out, Learnables: s.Learnables(), Layers: s.Infos()}, nil
}

func (m *Model) blockOptions() blocks.Options {
	return blocks.Options{Plain: m.arch.plain, Shortcut: m.opts.Shortcut, ZeroInitResidual: m.opts.ZeroInitResidual}
}

// makeLayer stacks one stage, "layerN": its first block has the stage's
// stride, the rest keep the shape. It returns the stage's output.
func (m *Model) makeLayer(s *layers.Scope, name string, x *G.Node, planes, count, stride int) (*G.Node, error) {
	for i := 0; i < count; i++ {
		var b blocks.Block = blocks.BasicBlock{Planes: planes, Stride: stride, Options: m.blockOptions()}
		if m.arch.bottle {
			b = blocks.Bottleneck{Planes: planes, Stride: stride, StrideOnFirst1x1: m.opts.StrideOnFirst1x1, Options: m.blockOptions()}
		}
		var err error
		if x, _, err = b.Build(s.Sub(name).Sub(fmt.Sprint(i)), x); err != nil {
			return nil, err
		}
		stride = 1
	}
	return x, nil
}

// buildCIFAR is the paper's CIFAR-10 network: conv3x3(16)-BN-ReLU, three
// stages of n blocks at 16, 32 and 64 channels (strides 1, 2, 2), global
// average pooling and a linear classifier.
func (m *Model) buildCIFAR(s *layers.Scope, x *G.Node) (*G.Node, error) {
	x, err := layers.Conv2d(s, "conv1", x, 16, 3, 1, 1)
	if err == nil {
		x, err = layers.BatchNorm2d(s, "bn1", x, layers.BNOptions{ReLU: true})
	}
	for i, planes := range []int{16, 32, 64} {
		if err != nil {
			break
		}
		x, err = m.makeLayer(s, fmt.Sprintf("layer%d", i+1), x, planes, m.arch.stages[i], min(i+1, 2))
	}
	return m.head(s, x, err)
}

// buildImageNet is torchvision's ResNet: conv7x7(64)/2-BN-ReLU, max pool
// 3x3/2, four stages at 64, 128, 256 and 512 planes (strides 1, 2, 2, 2),
// global average pooling and a linear classifier.
func (m *Model) buildImageNet(s *layers.Scope, x *G.Node) (*G.Node, error) {
	x, err := layers.Conv2d(s, "conv1", x, 64, 7, 2, 3)
	if err == nil {
		x, err = layers.BatchNorm2d(s, "bn1", x, layers.BNOptions{ReLU: true})
	}
	if err == nil {
		x, err = layers.MaxPool2d(s, "maxpool", x, 3, 2, 1)
	}
	for i, planes := range []int{64, 128, 256, 512} {
		if err != nil {
			break
		}
		x, err = m.makeLayer(s, fmt.Sprintf("layer%d", i+1), x, planes, m.arch.stages[i], min(i+1, 2))
	}
	return m.head(s, x, err)
}

// head is global average pooling and the classifier "fc".
func (m *Model) head(s *layers.Scope, x *G.Node, err error) (*G.Node, error) {
	if err == nil {
		x, err = layers.GlobalAvgPool(x)
	}
	if err == nil {
		x, err = layers.Linear(s, "fc", x, m.opts.NumClasses)
	}
	return x, err
}
