package layers

import (
	"fmt"

	"github.com/gorgonia-zoo/resnet/internal/parallel"
	"github.com/pkg/errors"
	"gorgonia.org/tensor"
)

// shortcutAOp is the paper's option-A shortcut: keep every stride-th row and
// column and zero-pad the channels evenly on both sides, so (N,Cin,H,W)
// becomes (N,Cout,ceil(H/stride),ceil(W/stride)). Its gradient is routed
// back to the kept pixels.
func shortcutAOp(cout, stride int) *planeOp {
	name := fmt.Sprintf("ShortcutA%d/s%d", cout, stride)
	return &planeOp{
		opBase:  newOpBase(name),
		outRank: 4,
		shape: func(x tensor.Shape) (tensor.Shape, error) {
			if cout < x[1] || (cout-x[1])%2 != 0 {
				return nil, errors.Errorf("%s: cannot pad %d channels evenly to %d", name, x[1], cout)
			}
			return tensor.Shape{x[0], cout, ceilDiv(x[2], stride), ceilDiv(x[3], stride)}, nil
		},
		forward: func(x, y *tensor.Dense) {
			if x.Dtype() == tensor.Float32 {
				subsamplePad(data[float32](x), x.Shape(), data[float32](y), cout, stride, false)
			} else {
				subsamplePad(data[float64](x), x.Shape(), data[float64](y), cout, stride, false)
			}
		},
		backward: func(_, dy, dx *tensor.Dense) {
			if dx.Dtype() == tensor.Float32 {
				subsamplePad(data[float32](dx), dx.Shape(), data[float32](dy), cout, stride, true)
			} else {
				subsamplePad(data[float64](dx), dx.Shape(), data[float64](dy), cout, stride, true)
			}
		},
	}
}

// subsamplePad copies x (N,C,H,W) into the strided, channel-padded y, or with
// backward set, gathers y's gradient back into x (zeros elsewhere). Images
// are split over the workers.
func subsamplePad[T float](x []T, xs tensor.Shape, y []T, cout, stride int, backward bool) {
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	ho, wo := ceilDiv(h, stride), ceilDiv(w, stride)
	pad := (cout - c) / 2
	parallel.For(n, func(_, lo, hi int) {
		if backward {
			clear(x[lo*c*h*w : hi*c*h*w])
		} else {
			clear(y[lo*cout*ho*wo : hi*cout*ho*wo])
		}
		for i := lo; i < hi; i++ {
			for ci := 0; ci < c; ci++ {
				xp := x[(i*c+ci)*h*w:][:h*w]
				yp := y[(i*cout+pad+ci)*ho*wo:][:ho*wo]
				for oy := 0; oy < ho; oy++ {
					xr, yr := xp[stride*oy*w:], yp[oy*wo:(oy+1)*wo]
					for ox := range yr {
						if backward {
							xr[stride*ox] = yr[ox]
						} else {
							yr[ox] = xr[stride*ox]
						}
					}
				}
			}
		}
	})
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// globalAvgPoolOp averages each channel's plane, (N,C,H,W) -> (N,C), and
// spreads each gradient evenly back over its plane.
func globalAvgPoolOp() *planeOp {
	return &planeOp{
		opBase:  newOpBase("GlobalAvgPool"),
		outRank: 2,
		shape:   func(x tensor.Shape) (tensor.Shape, error) { return tensor.Shape{x[0], x[1]}, nil },
		forward: func(x, y *tensor.Dense) {
			hw := x.Shape()[2] * x.Shape()[3]
			if x.Dtype() == tensor.Float32 {
				avgPlanes(data[float32](x), hw, data[float32](y))
			} else {
				avgPlanes(data[float64](x), hw, data[float64](y))
			}
		},
		backward: func(x, dy, dx *tensor.Dense) {
			hw := x.Shape()[2] * x.Shape()[3]
			if dx.Dtype() == tensor.Float32 {
				spreadPlanes(data[float32](dy), hw, data[float32](dx))
			} else {
				spreadPlanes(data[float64](dy), hw, data[float64](dx))
			}
		},
	}
}

func avgPlanes[T float](x []T, hw int, y []T) {
	parallel.For(len(y), func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			var sum T
			for _, v := range x[p*hw : (p+1)*hw] {
				sum += v
			}
			y[p] = sum / T(hw)
		}
	})
}

func spreadPlanes[T float](dy []T, hw int, dx []T) {
	parallel.For(len(dy), func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			g := dy[p] / T(hw)
			plane := dx[p*hw : (p+1)*hw]
			for j := range plane {
				plane[j] = g
			}
		}
	})
}
