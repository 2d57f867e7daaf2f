// Package progress draws the zoo's progress lines: the training line of
// package train and the download bar of datasets/cifar10.
//
// On a terminal a Line is one line redrawn in place ('\r', no newline), fitted
// to the terminal's width so that it never wraps: the fields of lowest rank
// are dropped first, a bar takes whatever room is left, and the last column
// stays empty. Anywhere else (a log file, a pipe) every drawing is a plain
// line of its own, without '\r' or bar; Line.Due paces them (every 10 s
// there, every 200 ms on a terminal).
package progress

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// defaultWidth is the width assumed for a terminal whose size cannot be
// read (the writer is not a file, or the query fails).
const defaultWidth = 80

// Bar widths, in columns between the brackets: a bar narrower than minBar
// is left out; one never grows past maxBar.
const (
	minBar = 10
	maxBar = 30
)

// Field is one piece of a progress line: its text and how long it is kept
// when the line is too wide (a higher Rank is dropped later).
type Field struct {
	Text string
	Rank int
}

// Line is a progress line on a writer. It is not safe for concurrent use.
type Line struct {
	w        io.Writer
	terminal bool
	fd       int // the terminal's file descriptor, -1 if w has none
	cols     int // width in columns; 0 means ask the terminal
	shown    int // columns of the line now on the terminal; 0 if none
	every    time.Duration
	last     time.Time
	drawn    bool // whether Draw has drawn at all, for Due
}

// fder is a writer with a file descriptor, such as *os.File.
type fder interface{ Fd() uintptr }

// New returns a Line on w. With terminal it redraws one line in place and
// fits it to the terminal's width (that of w's file descriptor, read at
// every Draw, else 80 columns); without, it writes plain lines.
// IsTerminal(w) is the usual choice for terminal.
func New(w io.Writer, terminal bool) *Line {
	l := &Line{w: w, terminal: terminal, fd: -1, every: 10 * time.Second}
	if terminal {
		l.every = 200 * time.Millisecond
	}
	if f, ok := w.(fder); ok {
		l.fd = int(f.Fd())
	}
	return l
}

// IsTerminal reports whether w is a terminal: a file (anything with an Fd
// method) whose descriptor is one.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(fder)
	return ok && term.IsTerminal(int(f.Fd()))
}

// width returns the columns l fits its line to: the terminal's current
// width, or defaultWidth when it cannot be read.
func (l *Line) width() int {
	if l.cols > 0 {
		return l.cols
	}
	if l.fd >= 0 {
		if w, _, err := term.GetSize(l.fd); err == nil && w > 0 {
			return w
		}
	}
	return defaultWidth
}

// Due reports whether a Draw is due: true before the first, then once
// 200 ms have passed since the last on a terminal, 10 s elsewhere. A caller
// that updates often draws only when it is.
func (l *Line) Due() bool {
	return !l.drawn || time.Since(l.last) >= l.every
}

// Draw draws the fields, joined by spaces, and on a terminal a bar filled
// to frac (in [0, 1]; none when frac is negative or NaN) after them if
// there is room. On a terminal the line replaces the one shown and is fitted to the
// width less one column; elsewhere it is written whole, as a line of its
// own.
func (l *Line) Draw(frac float64, fields ...Field) {
	l.last, l.drawn = time.Now(), true
	if !l.terminal {
		fmt.Fprintln(l.w, join(fields))
		return
	}
	cols := l.width() - 1 // writing the last column would wrap on some terminals
	s := fit(cols, fields...)
	if room := cols - columns(s) - 3; frac >= 0 && room >= minBar { // " [" and "]"
		s += " " + bar(frac, min(room, maxBar))
	}
	n := columns(s)
	pad := ""
	if n < l.shown {
		pad = strings.Repeat(" ", l.shown-n)
	}
	fmt.Fprint(l.w, "\r"+s+pad)
	l.shown = n
}

// Clear erases the line shown on a terminal; elsewhere it does nothing.
func (l *Line) Clear() {
	if l.shown > 0 {
		fmt.Fprint(l.w, "\r"+strings.Repeat(" ", l.shown)+"\r")
		l.shown = 0
	}
}

// Println writes s as a line of its own; on a terminal it first erases the
// progress line, which the next Draw draws again below s.
func (l *Line) Println(s string) {
	l.Clear()
	fmt.Fprintln(l.w, s)
}

// End ends the line shown on a terminal with a newline, leaving it in
// place; elsewhere it does nothing.
func (l *Line) End() {
	if l.shown > 0 {
		fmt.Fprintln(l.w)
		l.shown = 0
	}
}

// join joins the fields' texts with spaces, skipping empty ones.
func join(fields []Field) string {
	var b strings.Builder
	for _, f := range fields {
		if f.Text == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Text)
	}
	return b.String()
}

// fit joins the fields with spaces into at most cols columns (one column a
// rune). While the line is too wide it drops the field of lowest Rank (of
// equal ranks, the last); a single field still too wide is cut.
func fit(cols int, fields ...Field) string {
	kept := append([]Field(nil), fields...)
	for {
		s := join(kept)
		if columns(s) <= cols {
			return s
		}
		drop := -1
		for i, f := range kept {
			if f.Text != "" && (drop < 0 || f.Rank <= kept[drop].Rank) {
				drop = i
			}
		}
		if nonEmpty(kept) <= 1 {
			return cut(s, cols)
		}
		kept = append(kept[:drop], kept[drop+1:]...)
	}
}

func nonEmpty(fields []Field) int {
	n := 0
	for _, f := range fields {
		if f.Text != "" {
			n++
		}
	}
	return n
}

// bar returns "[===   ]" with width columns between the brackets, filled
// to frac (clamped to [0, 1]).
func bar(frac float64, width int) string {
	fill := int(math.Max(0, math.Min(frac, 1)) * float64(width))
	return "[" + strings.Repeat("=", fill) + strings.Repeat(" ", width-fill) + "]"
}

// Duration formats seconds as 4.5s, 2m03s or 1h02m03s (hours go on past
// 24); negative values as 0.0s.
func Duration(s float64) string {
	s = math.Max(s, 0)
	switch {
	case s < 60:
		return fmt.Sprintf("%.1fs", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", int(s)/3600, int(s)%3600/60, int(s)%60)
}

// ETA returns "ETA " and the time left to do remaining units at rate units
// a second, in whole seconds (5s, 2m03s, 1h02m03s), or "ETA ?" when it is
// not known: a rate that is not positive, or a remaining amount that is
// negative, not finite, or too large to be a duration.
func ETA(remaining, rate float64) string {
	s := math.Ceil(remaining / rate)
	if !(rate > 0) || !(remaining >= 0) || math.IsInf(s, 0) || math.IsNaN(s) || s > math.MaxInt64/1e9 {
		return "ETA ?"
	}
	if s < 60 {
		return fmt.Sprintf("ETA %ds", int(s))
	}
	return "ETA " + Duration(s)
}

// columns is the width of s on a terminal, one column a rune.
func columns(s string) int { return utf8.RuneCountInString(s) }

// cut returns the first cols runes of s.
func cut(s string, cols int) string {
	if cols <= 0 {
		return ""
	}
	i := 0
	for n := range s {
		if i == cols {
			return s[:n]
		}
		i++
	}
	return s
}
