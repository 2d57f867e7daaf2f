package layers

import (
	"math/rand"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The shapes of ResNet-20's first stage: 16 channels of 32x32, 3x3 kernels.
var stage1 = convGeom{kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1}

func BenchmarkIm2col(b *testing.B) {
	x := gradcheck.RandTensor(rand.New(rand.NewSource(1)), tensor.Float32, 16, 32, 32).Data().([]float32)
	col := make([]float32, 16*9*32*32)
	b.SetBytes(int64(4 * len(col)))
	for i := 0; i < b.N; i++ {
		im2col(x, 16, 32, 32, &stage1, col)
	}
}

func BenchmarkCol2im(b *testing.B) {
	col := gradcheck.RandTensor(rand.New(rand.NewSource(1)), tensor.Float32, 16*9, 32*32).Data().([]float32)
	dx := make([]float32, 16*32*32)
	b.SetBytes(int64(4 * len(col)))
	for i := 0; i < b.N; i++ {
		col2im(col, 16, 32, 32, &stage1, dx)
	}
}

// benchConv times one 3x3 convolution op's forward, input-gradient and
// weight-gradient kernels on a training batch (128 images) of cin channels,
// hw x hw, in GFLOP/s.
func benchConv(b *testing.B, cin, cout, hw, stride int) {
	rng := rand.New(rand.NewSource(1))
	geom := convGeom{kh: 3, kw: 3, sh: stride, sw: stride, ph: 1, pw: 1}
	ho, _ := geom.outSize(hw, hw)
	x := gradcheck.RandTensor(rng, tensor.Float32, 128, cin, hw, hw)
	w := gradcheck.RandTensor(rng, tensor.Float32, cout, cin, 3, 3)
	dy := gradcheck.RandTensor(rng, tensor.Float32, 128, cout, ho, ho)
	op := newConvOp(geom)
	gi := &convGrad{fwd: op, want: wantInput}
	gw := &convGrad{fwd: op, want: wantWeight}
	flops := float64(2 * 128 * cout * cin * 9 * ho * ho)
	for _, k := range []struct {
		name string
		run  func() (any, error)
	}{
		{"forward", func() (any, error) { return op.Do(x, w) }},
		{"input", func() (any, error) { return gi.Do(x, w, dy) }},
		{"weight", func() (any, error) { return gw.Do(x, w, dy) }},
	} {
		b.Run(k.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := k.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkConvFirst(b *testing.B)  { benchConv(b, 3, 16, 32, 1) }
func BenchmarkConvStage1(b *testing.B) { benchConv(b, 16, 16, 32, 1) }
func BenchmarkConvStage2(b *testing.B) { benchConv(b, 32, 32, 16, 1) }
func BenchmarkConvStage3(b *testing.B) { benchConv(b, 64, 64, 8, 1) }

// BenchmarkConvHalving is the first convolution of stage 2: 16 to 32
// channels, stride 2.
func BenchmarkConvHalving(b *testing.B) { benchConv(b, 16, 32, 32, 2) }

// benchBN times batch norm (with its fused ReLU) forward and backward in
// training on a batch of 128 images of c channels of hw x hw, the shapes of
// ResNet-20's stages.
func benchBN(b *testing.B, c, hw int) {
	rng := rand.New(rand.NewSource(1))
	g := G.NewGraph()
	s := NewScope(g, NewState(), tensor.Float32, NewMode(true), 1)
	x := gradcheck.RandTensor(rng, tensor.Float32, 128, c, hw, hw)
	dy := gradcheck.RandTensor(rng, tensor.Float32, 128, c, hw, hw)
	xn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(x.Shape()...), G.WithName("x"), G.WithValue(x))
	y, err := BatchNorm2d(s, "bn", xn, BNOptions{ReLU: true})
	if err != nil {
		b.Fatal(err)
	}
	op := y.Op().(*batchNormOp)
	gamma, beta := s.Learnables()[0].Value(), s.Learnables()[1].Value()
	grad := &bnGradInput{opBase: newOpBase("BatchNormReLUGradInput"), fwd: op}
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(int64(3 * 4 * x.Shape().TotalSize())) // x twice, y once
		for b.Loop() {
			if _, err := op.Do(x, gamma, beta); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backward", func(b *testing.B) {
		b.SetBytes(int64(5 * 4 * x.Shape().TotalSize())) // x and dy twice, dx once
		for b.Loop() {
			if _, err := grad.Do(x, gamma, dy); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBatchNormStage1(b *testing.B) { benchBN(b, 16, 32) }
func BenchmarkBatchNormStage2(b *testing.B) { benchBN(b, 32, 16) }
func BenchmarkBatchNormStage3(b *testing.B) { benchBN(b, 64, 8) }
