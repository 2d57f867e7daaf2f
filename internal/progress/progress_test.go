package progress

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// terminalLine is a terminal-mode Line of the given width writing to a buffer.
func terminalLine(cols int) (*Line, *bytes.Buffer) {
	var b bytes.Buffer
	l := New(&b, true)
	l.cols = cols
	return l, &b
}

// drawings splits terminal output into what each '\r' starts.
func drawings(out string) []string {
	parts := strings.Split(out, "\r")
	return parts[1:] // before the first '\r' there is nothing
}

func TestLongLineIsCutToWidthLessOne(t *testing.T) {
	for _, cols := range []int{1, 2, 20, 80, 132} {
		l, b := terminalLine(cols)
		long := strings.Repeat("x", 300)
		l.Draw(-1, Field{Text: long})
		got := b.String()
		want := "\r" + long[:cols-1]
		if got != want {
			t.Errorf("width %d: wrote %q, want %q", cols, got, want)
		}
	}
}

func TestEveryDrawingFitsTheWidth(t *testing.T) {
	fields := []Field{
		{"resnet110", 9}, {"12345/64000", 10}, {"ep 31.6", 3}, {"lr 0.001", 2}, {"loss 0.1234", 6},
		{"err 4.5%", 7}, {"512 img/s", 4}, {"elapsed 1h02m03s", 1}, {"ETA 3h04m05s", 8},
	}
	for cols := 1; cols <= 160; cols++ {
		l, b := terminalLine(cols)
		for _, frac := range []float64{0, 0.5, 1, -1} {
			l.Draw(frac, fields...)
		}
		l.Clear()
		for i, d := range drawings(b.String()) {
			if n := utf8.RuneCountInString(d); n > cols-1 {
				t.Errorf("width %d, drawing %d: %d columns, want at most %d: %q", cols, i, n, cols-1, d)
			}
			if strings.Contains(d, "\n") {
				t.Errorf("width %d: a newline in a terminal drawing %q", cols, d)
			}
		}
		for _, d := range drawings(b.String())[:4] {
			if cols >= 40 && (!strings.Contains(d, "12345/64000") || !strings.Contains(d, "ETA 3h04m05s")) {
				t.Errorf("width %d: the two fields ranked highest are not both kept: %q", cols, d)
			}
		}
	}
}

func TestFitDropsLowestRankFirst(t *testing.T) {
	fields := []Field{{"aaaa", 5}, {"bb", 1}, {"cccc", 3}, {"dd", 1}, {"eeee", 4}}
	for _, c := range []struct {
		cols int
		want string
	}{
		{100, "aaaa bb cccc dd eeee"},
		{20, "aaaa bb cccc dd eeee"},
		{19, "aaaa bb cccc eeee"}, // of two rank-1 fields, the last goes first
		{17, "aaaa bb cccc eeee"},
		{16, "aaaa cccc eeee"},
		{13, "aaaa eeee"},
		{8, "aaaa"},
		{3, "aaa"}, // the last field left is cut
		{0, ""},
	} {
		if got := fit(c.cols, fields...); got != c.want {
			t.Errorf("fit(%d) = %q, want %q", c.cols, got, c.want)
		}
	}
	if got := fit(10, Field{"", 9}, Field{"x", 1}, Field{"", 0}); got != "x" {
		t.Errorf("empty fields: %q, want %q", got, "x")
	}
}

func TestBarTakesTheRoomLeft(t *testing.T) {
	for _, c := range []struct {
		cols int
		frac float64
		want string
	}{
		{80, 0.5, "\rname 50% [" + strings.Repeat("=", 15) + strings.Repeat(" ", 15) + "]"}, // at most 30 wide
		{30, 1, "\rname 50% [" + strings.Repeat("=", 18) + "]"},                             // 29 columns
		{22, 0.25, "\rname 50% [==        ]"},                                               // the narrowest bar
		{21, 0.25, "\rname 50%"},                                                            // no room for one
		{80, -1, "\rname 50%"},                                                              // none asked for
		{24, 7, "\rname 50% [============]"},                                                // clamped
		{24, math.NaN(), "\rname 50%"},                                                      // unknown
	} {
		l, b := terminalLine(c.cols)
		l.Draw(c.frac, Field{"name", 1}, Field{"50%", 1})
		if b.String() != c.want {
			t.Errorf("width %d, frac %v: %q, want %q", c.cols, c.frac, b.String(), c.want)
		}
	}
}

func TestRedrawClearAndPrint(t *testing.T) {
	l, b := terminalLine(80)
	l.Draw(-1, Field{"a long line", 1})
	l.Draw(-1, Field{"short", 1}) // padded over the longer line
	l.Println("a log line")
	l.Draw(-1, Field{"again", 1})
	l.End()
	l.End() // nothing more: the line has ended
	l.Clear()
	want := "\ra long line" + "\rshort      " + "\r     \r" + "a log line\n" + "\ragain" + "\n"
	if b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}

	l, b = terminalLine(80)
	l.Draw(-1, Field{"done", 1})
	l.Clear()
	l.Clear()
	if want := "\rdone\r    \r"; b.String() != want {
		t.Errorf("clear wrote %q, want %q", b.String(), want)
	}
}

func TestNotATerminalWritesPlainLines(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, false)
	long := strings.Repeat("y", 200) // not cut: a log has no width
	l.Draw(0.5, Field{"first", 1}, Field{long, 0})
	l.Draw(1, Field{"second", 1})
	l.Println("a log line")
	l.Clear()
	l.End()
	want := "first " + long + "\nsecond\na log line\n"
	if b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
	if strings.ContainsAny(b.String(), "\r[") {
		t.Errorf("plain output holds a carriage return or a bar: %q", b.String())
	}
}

func TestDue(t *testing.T) {
	l, _ := terminalLine(80)
	if !l.Due() {
		t.Error("not due before the first drawing")
	}
	l.Draw(-1, Field{"x", 1})
	if l.Due() {
		t.Error("due right after a drawing")
	}
	l.every = 0
	if !l.Due() {
		t.Error("not due with no interval")
	}
	if term, plain := New(&bytes.Buffer{}, true).every, New(&bytes.Buffer{}, false).every; term <= 0 || plain <= term {
		t.Errorf("intervals: terminal %v, plain %v; want the plain one longer", term, plain)
	}
}

func TestTerminalDetectionAndWidth(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
	// A terminal line on something whose size cannot be read: 80 columns.
	for _, w := range []io.Writer{f, &bytes.Buffer{}} {
		if got := New(w, true).width(); got != defaultWidth || defaultWidth != 80 {
			t.Errorf("%T: width %d, want 80", w, got)
		}
	}
}

func TestETA(t *testing.T) {
	for _, c := range []struct {
		remaining, rate float64
		want            string
	}{
		{0, 1, "ETA 0s"},
		{4.2, 1, "ETA 5s"}, // rounded up
		{59, 1, "ETA 59s"},
		{123, 1, "ETA 2m03s"},
		{1000, 0.25, "ETA 1h06m40s"},
		{3723, 1, "ETA 1h02m03s"},
		{100 * 3600, 1, "ETA 100h00m00s"},
		{10, 0, "ETA ?"},
		{10, -1, "ETA ?"},
		{-1, 1, "ETA ?"},
		{math.NaN(), 1, "ETA ?"},
		{10, math.NaN(), "ETA ?"},
		{math.Inf(1), 1, "ETA ?"},
		{1e300, 1e-300, "ETA ?"},
	} {
		if got := ETA(c.remaining, c.rate); got != c.want {
			t.Errorf("ETA(%v, %v) = %q, want %q", c.remaining, c.rate, got, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want string
	}{
		{-3, "0.0s"}, {0, "0.0s"}, {4.54, "4.5s"}, {60, "1m00s"}, {123.9, "2m03s"}, {3600, "1h00m00s"}, {3723, "1h02m03s"}, {90000, "25h00m00s"},
	} {
		if got := Duration(c.s); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.s, got, c.want)
		}
	}
}
