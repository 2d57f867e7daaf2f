// Package gradcheck compares Gorgonia's symbolic gradients with central
// finite differences, the test that proves a layer's backward pass right.
package gradcheck

import (
	"math"
	"math/rand"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Result is the worst disagreement found for one parameter.
type Result struct {
	Name     string
	Checked  int     // elements compared
	Kinks    int     // elements skipped: the cost is not smooth around them
	WorstRel float64 // worst |numeric-analytic| / max(|numeric|, |analytic|, Floor)
}

// Floor keeps the relative error of gradients that are exactly zero (a
// ReLU's dead inputs, zero-padded channels) from dividing rounding noise by
// nothing: below it errors are absolute, so Tolerance then means an absolute
// error of 1e-12.
const Floor = 1e-6

// Check differentiates the float64 scalar cost with respect to wrt, then
// perturbs up to maxPerParam randomly chosen elements of each and compares
// the five-point central difference
//
//	(c(-2eps) - 8c(-eps) + 8c(+eps) - c(+2eps)) / 12eps
//
// with the symbolic gradient. Its truncation error is O(eps^4), so a step of
// 1e-3 keeps both truncation and rounding far below 1e-6 relative.
//
// No single step suits every element: a large step may straddle a ReLU's
// kink, a small one drowns a small gradient in rounding noise. So an element
// whose estimate at eps disagrees is estimated again at eps/10 and eps/100,
// and the best agreement counts. A wrong gradient disagrees at every step.
// An estimate whose central differences with steps h and 2h disagree has a
// kink inside its stencil and is not used; an element with no usable
// estimate is counted in Kinks rather than compared. The graph must
// be float64 and built fresh: Check calls G.Grad on it.
func Check(g *G.ExprGraph, cost *G.Node, wrt G.Nodes, eps float64, maxPerParam int, seed int64) ([]Result, error) {
	if _, err := G.Grad(cost, wrt...); err != nil {
		return nil, errors.Wrap(err, "gradcheck: symbolic gradient")
	}
	var loss G.Value
	G.Read(cost, &loss)
	vm := G.NewTapeMachine(g, G.BindDualValues(wrt...))
	defer vm.Close()
	run := func() (float64, error) {
		defer vm.Reset()
		if err := vm.RunAll(); err != nil {
			return 0, errors.Wrap(err, "gradcheck: run")
		}
		return loss.Data().(float64), nil
	}
	// One run for the analytic gradients, copied before the next run adds to them.
	if _, err := run(); err != nil {
		return nil, err
	}
	analytic := make([][]float64, len(wrt))
	for i, n := range wrt {
		gv, err := n.Grad()
		if err != nil {
			return nil, errors.Wrapf(err, "gradcheck: gradient of %s", n.Name())
		}
		d, ok := gv.Data().([]float64)
		if !ok {
			return nil, errors.Errorf("gradcheck: %s is not float64", n.Name())
		}
		analytic[i] = append([]float64(nil), d...)
	}
	rng := rand.New(rand.NewSource(seed))
	var results []Result
	for i, n := range wrt {
		vals := n.Value().(*tensor.Dense).Data().([]float64)
		idx := rng.Perm(len(vals))
		if len(idx) > maxPerParam {
			idx = idx[:maxPerParam]
		}
		r := Result{Name: n.Name()}
		for _, j := range idx {
			rel, smooth, err := compare(vals, j, analytic[i][j], eps, run)
			if err != nil {
				return nil, err
			}
			if !smooth {
				r.Kinks++
				continue
			}
			r.Checked++
			r.WorstRel = math.Max(r.WorstRel, rel)
		}
		results = append(results, r)
	}
	return results, nil
}

// compare returns the relative error of the analytic gradient ana of
// element j against finite differences (see Check), and whether any step
// gave a smooth estimate.
func compare(vals []float64, j int, ana, eps float64, run func() (float64, error)) (float64, bool, error) {
	best, smooth := math.Inf(1), false
	for h := eps; h >= eps/100; h /= 10 {
		num, ok, err := differentiate(vals, j, h, run)
		if err != nil {
			return 0, false, err
		}
		if !ok {
			continue
		}
		smooth = true
		best = math.Min(best, math.Abs(num-ana)/math.Max(Floor, math.Max(math.Abs(num), math.Abs(ana))))
		if best <= Tolerance {
			break
		}
	}
	return best, smooth, nil
}

// differentiate estimates d cost / d vals[j] with the five-point stencil and
// reports whether the cost looked smooth over it: the central differences of
// steps h and 2h agree to 1e-3 relative (for a smooth cost they differ by
// about h^2 times the third derivative).
func differentiate(vals []float64, j int, h float64, run func() (float64, error)) (float64, bool, error) {
	orig := vals[j]
	defer func() { vals[j] = orig }()
	var c [4]float64
	for k, step := range [4]float64{-2, -1, 1, 2} {
		vals[j] = orig + step*h
		var err error
		if c[k], err = run(); err != nil {
			return 0, false, err
		}
	}
	d1 := (c[2] - c[1]) / (2 * h)
	d2 := (c[3] - c[0]) / (4 * h)
	smooth := math.Abs(d1-d2) <= 1e-3*math.Max(Floor, math.Max(math.Abs(d1), math.Abs(d2)))
	return (4*d1 - d2) / 3, smooth, nil
}
