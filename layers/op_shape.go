package layers

import (
	"fmt"

	"github.com/gorgonia-zoo/resnet/internal/parallel"
	"github.com/gorgonia-zoo/resnet/internal/vec"
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
// are split over the workers; every value of the output is written once,
// row by row, while its row is in cache.
func subsamplePad[T float](x []T, xs tensor.Shape, y []T, cout, stride int, backward bool) {
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	ho, wo := ceilDiv(h, stride), ceilDiv(w, stride)
	pad := (cout - c) / 2
	parallel.For(n, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			xi, yi := x[i*c*h*w:][:c*h*w], y[i*cout*ho*wo:][:cout*ho*wo]
			if !backward {
				clear(yi[:pad*ho*wo])
				clear(yi[(pad+c)*ho*wo:])
			}
			for ci := 0; ci < c; ci++ {
				xp, yp := xi[ci*h*w:][:h*w], yi[(pad+ci)*ho*wo:][:ho*wo]
				if backward {
					scatterRows(xp, yp, h, w, wo, stride)
				} else {
					gatherRows(yp, xp, ho, w, wo, stride)
				}
			}
		}
	})
}

// gatherRows sets the ho rows of wo values of dst to every stride-th value
// of every stride-th row of src (rows of w).
func gatherRows[T float](dst, src []T, ho, w, wo, stride int) {
	if d, ok := any(dst).([]float32); ok && stride == 2 {
		vec.DealRows(d, nil, any(src).([]float32), ho, w, wo, 2*w)
		return
	}
	for oy := 0; oy < ho; oy++ {
		row, out := src[stride*oy*w:], dst[oy*wo:(oy+1)*wo]
		for ox := range out {
			out[ox] = row[stride*ox]
		}
	}
}

// scatterRows is gatherRows' adjoint: it sets the h rows of w values of dst
// to src's values where gatherRows took them, and to zero elsewhere.
func scatterRows[T float](dst, src []T, h, w, wo, stride int) {
	for y := 0; y < h; y++ {
		row := dst[y*w : (y+1)*w]
		clear(row)
		if y%stride != 0 {
			continue
		}
		for ox, v := range src[y/stride*wo:][:wo] {
			row[stride*ox] = v
		}
	}
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
