package train

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	pline "github.com/gorgonia-zoo/resnet/internal/progress"
)

func ptr(v float64) *float64 { return &v }

// TestProgressTerminalLineFits checks the terminal line: redrawn with '\r',
// never wider than 79 columns (the 80 assumed for a writer whose size
// cannot be read), with the iteration, ETA and learning rate, and log lines
// printed whole above it.
func TestProgressTerminalLineFits(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(Output{W: &b, Terminal: true}, "resnet1202", 64000, 390, 128)
	p.update(1, 0.1, 2.345, 0.9, 1.5)
	p.point(Point{Iter: 50, Epoch: 0.13, LR: 0.1, TrainLoss: ptr(2.1), TrainErr: ptr(0.8), ImgPerS: 100, ElapsedS: 60}, "test")
	p.update(50, 0.1, 2.1, 0.8, 60)
	long := Point{Iter: 64000, Epoch: 164.1, LR: 0.001, TrainLoss: ptr(0.01), TrainErr: ptr(0.001),
		TestLoss: ptr(0.3), TestErr: ptr(0.07), ImgPerS: 100, ElapsedS: 4000}
	p.point(long, "test")
	p.update(64000, 0.001, 0.01, 0.001, 4000) // the last iteration is always drawn
	p.finish()
	out := b.String()
	t.Logf("%q", out)

	var draws []string
	for _, seg := range strings.Split(out, "\r")[1:] {
		if strings.Contains(seg, "\n") { // a log line, after the erased progress line
			if !strings.HasPrefix(seg, "resnet1202 iter 64000/64000 epoch 164.10 lr 0.001") || strings.Index(seg, "\n") != len(seg)-1 {
				t.Errorf("a newline inside the progress line, or a log line not written whole: %q", seg)
			}
			continue
		}
		if strings.TrimSpace(seg) != "" {
			draws = append(draws, seg)
		}
		if n := utf8.RuneCountInString(seg); n > 79 {
			t.Errorf("%d columns, want at most 79: %q", n, seg)
		}
	}
	if len(draws) != 2 {
		t.Fatalf("%d drawings, want 2 (the first iteration and the last): %q", len(draws), draws)
	}
	for _, want := range []string{"resnet1202", "64000/64000", "err 0.1%", "loss 0.010", "ETA 0s"} {
		if !strings.Contains(draws[1], want) {
			t.Errorf("the last drawing %q lacks %q", draws[1], want)
		}
	}
	if !strings.Contains(draws[0], "1/64000") || !strings.Contains(draws[0], "ETA ") || !strings.Contains(draws[0], "lr 0.1") {
		t.Errorf("first drawing %q: want the iteration, an ETA and the learning rate", draws[0])
	}
	if !strings.HasSuffix(out, "\r"+strings.Repeat(" ", utf8.RuneCountInString(draws[1]))+"\r") {
		t.Errorf("finish did not erase the line: %q", out)
	}

}

// TestProgressFields checks the training line's content: iteration/total,
// epoch, learning rate (from the last metrics point), loss, error, img/s,
// elapsed time and ETA.
func TestProgressFields(t *testing.T) {
	p := newProgress(Output{W: &bytes.Buffer{}, Terminal: true}, "resnet20", 1000, 390, 128)
	p.rate = 640
	text := func(fs []pline.Field) string {
		var s []string
		for _, f := range fs {
			if f.Text != "" {
				s = append(s, f.Text)
			}
		}
		return strings.Join(s, " ")
	}
	if got, want := text(p.fields(500, 0.01, 1, 0.5, 100)), "resnet20 500/1000 ep 1.3 lr 0.01 loss 1.000 err 50.0% 640 img/s elapsed 1m40s ETA 1m40s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestProgressNotTerminal checks that output to a log has no '\r': one line
// per metrics point and nothing per iteration.
func TestProgressNotTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(Output{W: &b}, "resnet20", 100, 390, 128)
	for i := 1; i <= 100; i++ {
		p.update(i, 0.1, 1, 0.5, float64(i))
	}
	p.point(Point{Iter: 100, Epoch: 0.26, LR: 0.1, TrainLoss: ptr(1), TrainErr: ptr(0.5), ImgPerS: 50, ElapsedS: 100}, "test")
	p.log("a message")
	p.clear()
	p.finish()
	want := "resnet20 iter 100/100 epoch 0.26 lr 0.1 train loss 1.0000 err 50.00% 50 img/s elapsed 1m40s\na message\n"
	if b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}

	p = newProgress(Output{}, "resnet20", 100, 390, 128) // no writer: no output, no panic
	p.update(1, 0.1, 1, 0.5, 1)
	p.point(Point{Iter: 1}, "test")
	p.log("x")
	p.finish()
}
