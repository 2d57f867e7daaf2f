// Package blocks provides the residual blocks of He et al. 2016 as Gorgonia
// expression subgraphs: BasicBlock (two 3x3 convolutions) and Bottleneck
// (1x1, 3x3, 1x1), laid out and named as torchvision's resnet.py names them.
// A block computes H(x) = relu(F(x) + shortcut(x)); built with Plain it is
// the same layers without the shortcut.
package blocks

import (
	"github.com/gorgonia-zoo/resnet/layers"
	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
)

// Shortcut selects how a block that changes shape carries x across.
type Shortcut byte

const (
	// ShortcutA is the paper's option A: subsample, zero-pad the new channels;
	// no parameters. The CIFAR-10 ResNets use it.
	ShortcutA Shortcut = 'A'
	// ShortcutB is option B: a 1x1 convolution and batch norm ("downsample"),
	// torchvision's choice for the ImageNet ResNets.
	ShortcutB Shortcut = 'B'
)

// Options are the variations every block supports.
type Options struct {
	// Plain drops the shortcut: the block is the plain twin, the same layers
	// ending in relu(F(x)).
	Plain bool
	// Shortcut is how a block that changes stride or width carries x; blocks
	// that keep the shape always use the identity.
	Shortcut Shortcut
	// ZeroInitResidual starts the last batch norm's gamma at 0, so a new
	// residual block is the identity on non-negative input.
	ZeroInitResidual bool
}

// Block is a residual block that can be stacked by a stage builder.
type Block interface {
	// Expansion is the ratio of output channels to the block's planes.
	Expansion() int
	// Build adds the block to s's graph on input x (N,C,H,W) and returns its
	// output and the learnable nodes it created.
	Build(s *layers.Scope, x *G.Node) (out *G.Node, learnables G.Nodes, err error)
}

// conv3x3 is a 3x3 convolution with padding 1, as in torchvision.
func conv3x3(s *layers.Scope, name string, x *G.Node, out, stride int) (*G.Node, error) {
	return layers.Conv2d(s, name, x, out, 3, stride, 1)
}

// conv1x1 is a 1x1 convolution without padding.
func conv1x1(s *layers.Scope, name string, x *G.Node, out, stride int) (*G.Node, error) {
	return layers.Conv2d(s, name, x, out, 1, stride, 0)
}

// finish ends a block from its last convolution's output: the last batch
// norm (with the block's ReLU) for a plain block, else relu(bn(branch) +
// shortcut(x)), where the shortcut is the identity when the shape is kept
// and the batch norm, the addition and the ReLU are one op. The batch
// norm's tensors are created before the shortcut's, in torchvision's order.
func finish(s *layers.Scope, opt Options, bnName string, x, branch *G.Node, out, stride int) (*G.Node, error) {
	bn, err := layers.NewBatchNorm2d(s, bnName, out, lastBN(opt))
	if err != nil {
		return nil, err
	}
	if opt.Plain {
		return bn.Apply(branch)
	}
	identity := x
	if stride != 1 || x.Shape()[1] != out {
		switch opt.Shortcut {
		case ShortcutA:
			identity, err = layers.ShortcutA(x, out, stride)
		case ShortcutB:
			identity, err = layers.ShortcutB(s, "downsample", x, out, stride)
		default:
			err = errors.Errorf("%s: shortcut option %q, want 'A' or 'B'", s.Name("downsample"), opt.Shortcut)
		}
		if err != nil {
			return nil, err
		}
	}
	return bn.AddReLU(branch, identity)
}

// lastBN is the options of a branch's final batch norm: fused with the
// block's ReLU for a plain block (a residual block's comes after the
// addition), zero gamma for ZeroInitResidual.
func lastBN(opt Options) layers.BNOptions {
	return layers.BNOptions{ReLU: opt.Plain, ZeroGamma: opt.ZeroInitResidual && !opt.Plain}
}

// learnablesSince returns the learnables s's tree created after the first n.
func learnablesSince(s *layers.Scope, n int) G.Nodes {
	all := s.Learnables()
	return append(G.Nodes(nil), all[n:]...)
}

// BasicBlock is conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU;
// the stride is on the first convolution. Its tensors are conv1, bn1, conv2,
// bn2 and, with option B, downsample.0 and downsample.1.
type BasicBlock struct {
	Planes int // output channels
	Stride int // 1, or 2 to halve the resolution
	Options
}

// Expansion is 1: a BasicBlock outputs Planes channels.
func (b BasicBlock) Expansion() int { return 1 }

// Build adds the block to s's graph on x.
func (b BasicBlock) Build(s *layers.Scope, x *G.Node) (*G.Node, G.Nodes, error) {
	first := len(s.Learnables())
	out, err := conv3x3(s, "conv1", x, b.Planes, b.Stride)
	if err == nil {
		out, err = layers.BatchNorm2d(s, "bn1", out, layers.BNOptions{ReLU: true})
	}
	if err == nil {
		out, err = conv3x3(s, "conv2", out, b.Planes, 1)
	}
	if err == nil {
		out, err = finish(s, b.Options, "bn2", x, out, b.Planes, b.Stride)
	}
	if err != nil {
		return nil, nil, err
	}
	return out, learnablesSince(s, first), nil
}

// Bottleneck is conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1-BN, plus the
// shortcut, then ReLU, widening to 4*Planes channels. The stride is on the
// 3x3 convolution, as torchvision puts it ("ResNet V1.5"), or on the first
// 1x1 with StrideOnFirst1x1, as the paper did.
type Bottleneck struct {
	Planes           int // channels of the 3x3 convolution
	Stride           int
	StrideOnFirst1x1 bool
	Options
}

// Expansion is 4: a Bottleneck outputs 4*Planes channels.
func (b Bottleneck) Expansion() int { return 4 }

// Build adds the block to s's graph on x.
func (b Bottleneck) Build(s *layers.Scope, x *G.Node) (*G.Node, G.Nodes, error) {
	first := len(s.Learnables())
	stride1, stride3 := 1, b.Stride
	if b.StrideOnFirst1x1 {
		stride1, stride3 = b.Stride, 1
	}
	out, err := conv1x1(s, "conv1", x, b.Planes, stride1)
	if err == nil {
		out, err = layers.BatchNorm2d(s, "bn1", out, layers.BNOptions{ReLU: true})
	}
	if err == nil {
		out, err = conv3x3(s, "conv2", out, b.Planes, stride3)
	}
	if err == nil {
		out, err = layers.BatchNorm2d(s, "bn2", out, layers.BNOptions{ReLU: true})
	}
	if err == nil {
		out, err = conv1x1(s, "conv3", out, b.Planes*b.Expansion(), 1)
	}
	if err == nil {
		out, err = finish(s, b.Options, "bn3", x, out, b.Planes*b.Expansion(), b.Stride)
	}
	if err != nil {
		return nil, nil, err
	}
	return out, learnablesSince(s, first), nil
}
