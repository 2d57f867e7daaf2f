package blocks

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	"github.com/gorgonia-zoo/resnet/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func convWeights(nodes G.Nodes) (convs, others int) {
	for _, n := range nodes {
		if n.Shape().Dims() == 4 {
			convs += n.Shape().TotalSize()
		} else {
			others += n.Shape().TotalSize()
		}
	}
	return convs, others
}

func TestParameterCounts(t *testing.T) {
	for _, c := range []struct {
		name      string
		block     Block
		in        int
		convs, bn int
	}{
		{"BasicBlock 64->64", BasicBlock{Planes: 64, Stride: 1, Options: Options{Shortcut: ShortcutB}}, 64, 73728, 2 * (64 + 64)},
		{"Bottleneck 256->64->256", Bottleneck{Planes: 64, Stride: 1, Options: Options{Shortcut: ShortcutB}}, 256, 69632, 2 * (64 + 64 + 256)},
		{"BasicBlock 64->128/2 option B", BasicBlock{Planes: 128, Stride: 2, Options: Options{Shortcut: ShortcutB}}, 64, 64*128*9 + 128*128*9 + 64*128, 2 * (128 + 128 + 128)},
		{"BasicBlock 16->32/2 option A", BasicBlock{Planes: 32, Stride: 2, Options: Options{Shortcut: ShortcutA}}, 16, 16*32*9 + 32*32*9, 2 * (32 + 32)},
	} {
		g := G.NewGraph()
		s := layers.NewScope(g, layers.NewState(), tensor.Float32, layers.NewMode(true), 1)
		x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, c.in, 8, 8), G.WithName("x"))
		_, learnables, err := c.block.Build(s, x)
		if err != nil {
			t.Fatal(err)
		}
		convs, bn := convWeights(learnables)
		if convs != c.convs || bn != c.bn {
			t.Errorf("%s: %d conv weights and %d BN parameters, want %d and %d", c.name, convs, bn, c.convs, c.bn)
		}
	}
}

func TestBlockGradients(t *testing.T) {
	for _, kind := range []string{"basic", "bottleneck"} {
		for _, stride := range []int{1, 2} {
			for _, sc := range []Shortcut{ShortcutA, ShortcutB} {
				for _, plain := range []bool{false, true} {
					name := fmt.Sprintf("%s/stride%d/%c/plain=%v", kind, stride, sc, plain)
					t.Run(name, func(t *testing.T) {
						rng := rand.New(rand.NewSource(int64(stride)))
						g := G.NewGraph()
						s := layers.NewScope(g, layers.NewState(), tensor.Float64, layers.NewMode(true), 3)
						opt := Options{Plain: plain, Shortcut: sc}
						var b Block = BasicBlock{Planes: 4, Stride: stride, Options: opt}
						in := 2
						if kind == "bottleneck" {
							b, in = Bottleneck{Planes: 2, Stride: stride, Options: opt}, 4
						}
						x := gradcheck.Input(g, rng, "x", tensor.Float64, 3, in, 4, 4)
						y, learnables, err := b.Build(s.Sub("layer1").Sub("0"), x)
						if err != nil {
							t.Fatal(err)
						}
						cost, err := gradcheck.WeightedSum(rng, y)
						if err != nil {
							t.Fatal(err)
						}
						gradcheck.Assert(t, g, cost, append(G.Nodes{x}, learnables...))
					})
				}
			}
		}
	}
}

// TestZeroInitResidualIsIdentity: with the last BN's gamma at 0 the
// residual branch outputs exactly 0, so relu(0 + x) = x for x >= 0.
func TestZeroInitResidualIsIdentity(t *testing.T) {
	for _, b := range []Block{
		BasicBlock{Planes: 8, Stride: 1, Options: Options{ZeroInitResidual: true, Shortcut: ShortcutA}},
		Bottleneck{Planes: 2, Stride: 1, Options: Options{ZeroInitResidual: true, Shortcut: ShortcutB}},
	} {
		g := G.NewGraph()
		s := layers.NewScope(g, layers.NewState(), tensor.Float32, layers.NewMode(true), 1)
		xv := gradcheck.RandTensor(rand.New(rand.NewSource(1)), tensor.Float32, 2, 8, 5, 5)
		for i, v := range xv.Data().([]float32) {
			if v < 0 {
				xv.Data().([]float32)[i] = -v
			}
		}
		x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 8, 5, 5), G.WithName("x"), G.WithValue(xv))
		y, _, err := b.Build(s, x)
		if err != nil {
			t.Fatal(err)
		}
		vm := G.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		got, want := y.Value().Data().([]float32), xv.Data().([]float32)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%T: output[%d] = %v, want exactly the input %v", b, i, got[i], want[i])
			}
		}
		vm.Close()
	}
}

func TestBadShortcut(t *testing.T) {
	g := G.NewGraph()
	s := layers.NewScope(g, layers.NewState(), tensor.Float32, layers.NewMode(true), 1)
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, 16, 8, 8), G.WithName("x"))
	_, _, err := BasicBlock{Planes: 32, Stride: 2}.Build(s.Sub("layer2").Sub("0"), x)
	if err == nil || err.Error() != `layer2.0.downsample: shortcut option '\x00', want 'A' or 'B'` {
		t.Fatalf("unset shortcut: got error %v", err)
	}
}

// TestTorchvisionOrder: a block's tensors, and its layers in a summary,
// come in torchvision's order, the last batch norm before the downsample,
// although the batch norm is applied after the shortcut exists.
func TestTorchvisionOrder(t *testing.T) {
	for _, b := range []Block{
		BasicBlock{Planes: 8, Stride: 2, Options: Options{Shortcut: ShortcutB}},
		Bottleneck{Planes: 2, Stride: 2, Options: Options{Shortcut: ShortcutB}},
	} {
		g := G.NewGraph()
		s := layers.NewScope(g, layers.NewState(), tensor.Float32, layers.NewMode(true), 1)
		x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 4, 8, 8), G.WithName("x"))
		if _, _, err := b.Build(s, x); err != nil {
			t.Fatal(err)
		}
		last := "bn2"
		want := "conv1.weight bn1.weight bn1.bias conv2.weight bn2.weight bn2.bias downsample.0.weight downsample.1.weight downsample.1.bias"
		wantInfos := "conv1 bn1 conv2 bn2 downsample.0 downsample.1"
		if _, ok := b.(Bottleneck); ok {
			last = "bn3"
			want = "conv1.weight bn1.weight bn1.bias conv2.weight bn2.weight bn2.bias conv3.weight bn3.weight bn3.bias downsample.0.weight downsample.1.weight downsample.1.bias"
			wantInfos = "conv1 bn1 conv2 bn2 conv3 bn3 downsample.0 downsample.1"
		}
		var names, infos []string
		for _, e := range s.State().Learnables() {
			names = append(names, e.Name)
		}
		for _, in := range s.Infos() {
			infos = append(infos, in.Name)
			if wantOut := (tensor.Shape{2, 8, 4, 4}); in.Name == last && !in.Out.Eq(wantOut) {
				t.Errorf("%T: %s's output in the summary is %v, want %v", b, last, in.Out, wantOut)
			}
		}
		if got := fmt.Sprint(names); got != "["+want+"]" {
			t.Errorf("%T: tensors %s, want [%s]", b, got, want)
		}
		if got := fmt.Sprint(infos); got != "["+wantInfos+"]" {
			t.Errorf("%T: summary %s, want [%s]", b, got, wantInfos)
		}
	}
}
