package layers

import (
	"fmt"

	"github.com/gorgonia-zoo/resnet/internal/parallel"
	"github.com/pkg/errors"
	"gorgonia.org/tensor"
)

// poolGeom is a square max pooling window: size k, stride and padding
// (padded positions never win), as torch.nn.MaxPool2d.
type poolGeom struct{ k, stride, pad int }

func (p poolGeom) out(n int) int { return (n+2*p.pad-p.k)/p.stride + 1 }

// maxPoolOp is k x k max pooling over each plane of (N,C,H,W). Gorgonia's
// own MaxPool2D is single-threaded, allocates its output and an argmax mask
// every step, and panics in the backward pass on NaN input; this one
// reuses its buffers, splits the planes over the workers and, like PyTorch,
// lets a NaN win its window so that it propagates. The backward pass finds
// each window's winner again from the input rather than storing it, so the
// op keeps no state between the passes.
func maxPoolOp(p poolGeom) *planeOp {
	name := fmt.Sprintf("MaxPool%dx%d/s%d", p.k, p.k, p.stride)
	return &planeOp{
		opBase:  newOpBase(name),
		outRank: 4,
		shape: func(x tensor.Shape) (tensor.Shape, error) {
			if x[2]+2*p.pad < p.k || x[3]+2*p.pad < p.k {
				return nil, errors.Errorf("%s: a %dx%d window does not fit a %dx%d input padded by %d", name, p.k, p.k, x[2], x[3], p.pad)
			}
			return tensor.Shape{x[0], x[1], p.out(x[2]), p.out(x[3])}, nil
		},
		forward: func(x, y *tensor.Dense) {
			if x.Dtype() == tensor.Float32 {
				maxPool(p, data[float32](x), x.Shape(), data[float32](y), nil)
			} else {
				maxPool(p, data[float64](x), x.Shape(), data[float64](y), nil)
			}
		},
		backward: func(x, dy, dx *tensor.Dense) {
			if x.Dtype() == tensor.Float32 {
				maxPool(p, data[float32](x), x.Shape(), data[float32](dy), data[float32](dx))
			} else {
				maxPool(p, data[float64](x), x.Shape(), data[float64](dy), data[float64](dx))
			}
		},
	}
}

// maxPool pools x (N,C,H,W) into y, or, when dx is given, reads y as the
// output's gradient and adds each element to dx at its window's winner (the
// first maximum, or the first NaN), zeros elsewhere.
func maxPool[T float](p poolGeom, x []T, xs tensor.Shape, y, dx []T) {
	h, w := xs[2], xs[3]
	ho, wo := p.out(h), p.out(w)
	parallel.For(xs[0]*xs[1], func(_, lo, hi int) {
		for plane := lo; plane < hi; plane++ {
			xp := x[plane*h*w:][:h*w]
			yp := y[plane*ho*wo:][:ho*wo]
			var dxp []T
			if dx != nil {
				dxp = dx[plane*h*w:][:h*w]
				clear(dxp)
			}
			for oy := 0; oy < ho; oy++ {
				y0 := oy*p.stride - p.pad
				ylo, yhi := max(y0, 0), min(y0+p.k, h)
				for ox := 0; ox < wo; ox++ {
					x0 := ox*p.stride - p.pad
					xlo, xhi := max(x0, 0), min(x0+p.k, w)
					best := ylo*w + xlo
					for iy := ylo; iy < yhi; iy++ {
						for ix, v := range xp[iy*w+xlo : iy*w+xhi] {
							if v > xp[best] || (v != v && xp[best] == xp[best]) {
								best = iy*w + xlo + ix
							}
						}
					}
					if dxp != nil {
						dxp[best] += yp[oy*wo+ox]
					} else {
						yp[oy*wo+ox] = xp[best]
					}
				}
			}
		}
	})
}
