package train

import (
	"fmt"
	"time"

	pline "github.com/gorgonia-zoo/resnet/internal/progress"
)

// progress shows a run's progress: on a terminal one line redrawn in place
// and fitted to the terminal's width (internal/progress), with log lines
// above it; otherwise a log line per metrics point.
type progress struct {
	out             Output
	line            *pline.Line // nil when out.W is nil
	model           string
	total, perEpoch int
	batch           int
	lastIter        int
	lastT           time.Time
	rate            float64 // images per second, smoothed
	startIter       int
	start           time.Time
	startSet        bool
}

func newProgress(out Output, model string, total, perEpoch, batch int) *progress {
	p := &progress{out: out, model: model, total: total, perEpoch: perEpoch, batch: batch}
	if out.W != nil {
		p.line = pline.New(out.W, out.Terminal)
	}
	return p
}

// update is called after every iteration, with its learning rate.
func (p *progress) update(iter int, lr, loss, errRate, elapsed float64) {
	if p.line == nil {
		return
	}
	now := time.Now()
	if !p.startSet {
		p.start, p.startIter, p.startSet = now, iter, true
		p.lastT, p.lastIter = now, iter
	}
	if dt := now.Sub(p.lastT).Seconds(); dt >= 1 {
		r := float64((iter-p.lastIter)*p.batch) / dt
		if p.rate == 0 {
			p.rate = r
		} else {
			p.rate = 0.7*p.rate + 0.3*r
		}
		p.lastT, p.lastIter = now, iter
	} else if p.rate == 0 && iter > p.startIter {
		if s := now.Sub(p.start).Seconds(); s > 0 {
			p.rate = float64((iter-p.startIter)*p.batch) / s
		}
	}
	if !p.out.Terminal || !p.line.Due() && iter != p.total {
		return
	}
	p.line.Draw(float64(iter)/float64(p.total), p.fields(iter, lr, loss, errRate, elapsed)...)
}

// fields are the training line's, in the order shown, ranked by how long
// they stay when the terminal is narrow: the iteration, the name, ETA,
// error and loss last longest.
func (p *progress) fields(iter int, lr, loss, errRate, elapsed float64) []pline.Field {
	lrText := ""
	if lr > 0 {
		lrText = fmt.Sprintf("lr %g", lr)
	}
	return []pline.Field{
		{Text: p.model, Rank: 9},
		{Text: fmt.Sprintf("%d/%d", iter, p.total), Rank: 10},
		{Text: fmt.Sprintf("ep %.1f", float64(iter)/float64(p.perEpoch)), Rank: 3},
		{Text: lrText, Rank: 2},
		{Text: fmt.Sprintf("loss %.3f", loss), Rank: 6},
		{Text: fmt.Sprintf("err %.1f%%", 100*errRate), Rank: 7},
		{Text: fmt.Sprintf("%.0f img/s", p.rate), Rank: 4},
		{Text: "elapsed " + pline.Duration(elapsed), Rank: 1},
		{Text: pline.ETA(float64((p.total-iter)*p.batch), p.rate), Rank: 8},
	}
}

// point reports a metrics point: a log line (above the bar on a terminal).
func (p *progress) point(pt Point, evalName string) {
	if p.line == nil {
		return
	}
	s := fmt.Sprintf("%s iter %d/%d epoch %.2f lr %g", p.model, pt.Iter, p.total, pt.Epoch, pt.LR)
	if pt.TrainLoss != nil {
		s += fmt.Sprintf(" train loss %.4f err %.2f%%", *pt.TrainLoss, 100**pt.TrainErr)
	}
	if pt.TestLoss != nil {
		s += fmt.Sprintf(" %s loss %.4f err %.2f%%", evalName, *pt.TestLoss, 100**pt.TestErr)
	}
	s += fmt.Sprintf(" %.0f img/s elapsed %s", pt.ImgPerS, pline.Duration(pt.ElapsedS))
	if p.out.Terminal && pt.TestLoss == nil {
		return // the bar shows the training numbers
	}
	p.log(s)
}

// log prints a line, above the bar on a terminal.
func (p *progress) log(s string) {
	if p.line != nil {
		p.line.Println(s)
	}
}

// clear erases the bar.
func (p *progress) clear() {
	if p.line != nil {
		p.line.Clear()
	}
}

func (p *progress) finish() { p.clear() }
