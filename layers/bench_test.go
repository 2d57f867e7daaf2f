package layers

import (
	"math/rand"
	"testing"

	"github.com/gorgonia-zoo/resnet/internal/gradcheck"
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
