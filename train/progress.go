package train

import (
	"fmt"
	"strings"
	"time"
)

// progress draws a one-line bar on a terminal, or prints a log line per
// metrics point otherwise.
type progress struct {
	out             Output
	model           string
	total, perEpoch int
	batch           int
	last            time.Time
	lastIter        int
	lastT           time.Time
	rate            float64 // images per second, smoothed
	drawn           bool
	lineLen         int
	startIter       int
	start           time.Time
	startSet        bool
}

func newProgress(out Output, model string, total, perEpoch, batch int) *progress {
	return &progress{out: out, model: model, total: total, perEpoch: perEpoch, batch: batch}
}

// update is called after every iteration.
func (p *progress) update(iter int, loss, errRate, elapsed float64) {
	if p.out.W == nil {
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
	if !p.out.Terminal || now.Sub(p.last) < 200*time.Millisecond && iter != p.total {
		return
	}
	p.last = now
	eta := "?"
	if p.rate > 0 {
		eta = fmtDuration(float64((p.total-iter)*p.batch) / p.rate)
	}
	width := 20
	fill := width * iter / p.total
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	line := fmt.Sprintf("\r%s [%s] %d/%d ep %.1f loss %.3f err %.1f%% %.0f img/s ETA %s elapsed %s",
		p.model, bar, iter, p.total, float64(iter)/float64(p.perEpoch), loss, 100*errRate, p.rate, eta, fmtDuration(elapsed))
	pad := ""
	if n := len(line); n < p.lineLen {
		pad = strings.Repeat(" ", p.lineLen-n)
	}
	p.lineLen = len(line)
	fmt.Fprint(p.out.W, line+pad)
	p.drawn = true
}

// point reports a metrics point: a log line (above the bar on a terminal).
func (p *progress) point(pt Point, evalName string) {
	if p.out.W == nil {
		return
	}
	s := fmt.Sprintf("%s iter %d/%d epoch %.2f lr %g", p.model, pt.Iter, p.total, pt.Epoch, pt.LR)
	if pt.TrainLoss != nil {
		s += fmt.Sprintf(" train loss %.4f err %.2f%%", *pt.TrainLoss, 100**pt.TrainErr)
	}
	if pt.TestLoss != nil {
		s += fmt.Sprintf(" %s loss %.4f err %.2f%%", evalName, *pt.TestLoss, 100**pt.TestErr)
	}
	s += fmt.Sprintf(" %.0f img/s elapsed %s", pt.ImgPerS, fmtDuration(pt.ElapsedS))
	if p.out.Terminal && pt.TestLoss == nil {
		return // the bar shows the training numbers
	}
	p.log(s)
}

// log prints a line, above the bar on a terminal.
func (p *progress) log(s string) {
	if p.out.W == nil {
		return
	}
	p.clear()
	fmt.Fprintln(p.out.W, s)
}

// clear erases the bar.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.out.W, "\r"+strings.Repeat(" ", p.lineLen)+"\r")
		p.drawn, p.lineLen = false, 0
	}
}

func (p *progress) finish() { p.clear() }

// fmtDuration prints seconds as 1h02m03s, 2m03s or 4.5s.
func fmtDuration(s float64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%.1fs", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", int(s)/3600, int(s)%3600/60, int(s)%60)
}
