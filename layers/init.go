package layers

import (
	"math"
	"math/rand"
)

// kaimingNormalFanOut is torchvision's conv initialization for ResNets:
// kaiming_normal_(mode="fan_out", nonlinearity="relu"), std = sqrt(2/fan_out).
func kaimingNormalFanOut(fanOut int) initFn {
	std := math.Sqrt(2 / float64(fanOut))
	return func(rng *rand.Rand, data any) {
		fill(data, func() float64 { return rng.NormFloat64() * std })
	}
}

// uniformBound draws from U(-bound, bound): PyTorch's nn.Linear default for
// both weight (kaiming_uniform_ with a = sqrt(5)) and bias, bound = 1/sqrt(fan_in).
func uniformBound(bound float64) initFn {
	return func(rng *rand.Rand, data any) {
		fill(data, func() float64 { return (2*rng.Float64() - 1) * bound })
	}
}

// constant fills with v: BN gamma 1 and beta 0, running variance 1.
func constant(v float64) initFn {
	return func(_ *rand.Rand, data any) { fill(data, func() float64 { return v }) }
}

func fill(data any, next func() float64) {
	switch d := data.(type) {
	case []float32:
		for i := range d {
			d[i] = float32(next())
		}
	case []float64:
		for i := range d {
			d[i] = next()
		}
	case []int64:
		for i := range d {
			d[i] = int64(next())
		}
	}
}
