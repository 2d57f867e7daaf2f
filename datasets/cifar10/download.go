package cifar10

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/gorgonia-zoo/resnet/internal/filelock"
	pline "github.com/gorgonia-zoo/resnet/internal/progress"
)

// Where the data set comes from.
const (
	ArchiveURL  = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" // the official binary archive
	ArchiveMD5  = "c32a1d4ab5d03f1284b67883e8d87530"                        // its MD5, published on the data set's page
	ArchiveName = "cifar-10-binary.tar.gz"                                  // its file name
	EnvVar      = "CIFAR10_DATA"                                            // environment variable naming the data's path
)

// DefaultPath returns where the archive is kept when neither a path nor
// $CIFAR10_DATA is given: resnet-zoo/cifar10/cifar-10-binary.tar.gz under
// os.UserCacheDir.
func DefaultPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", errors.Wrap(err, "cifar10: no default data path")
	}
	return filepath.Join(dir, "resnet-zoo", "cifar10", ArchiveName), nil
}

// Locate returns where the data should be: explicit if not empty, else
// $CIFAR10_DATA if set, else DefaultPath. It does not check that the path
// exists; see Ensure.
func Locate(explicit string) (string, error) {
	path, _, err := locate(explicit)
	return path, err
}

// locate is Locate, also telling whether the path was given (explicitly or
// in $CIFAR10_DATA) rather than the default.
func locate(explicit string) (path string, given bool, err error) {
	if explicit != "" {
		return explicit, true, nil
	}
	if env := os.Getenv(EnvVar); env != "" {
		return env, true, nil
	}
	path, err = DefaultPath()
	return path, false, err
}

// Ensure returns the path of the data, Locate(explicit), after checking that
// it exists. When it does not:
//   - the default location (explicit empty, $CIFAR10_DATA unset) gets the
//     archive, downloaded with d (nil means the official archive, no
//     progress output);
//   - a path given in explicit or $CIFAR10_DATA is an error naming it
//     ("cifar10: PATH: no such file or directory; ..."; errors.Is
//     fs.ErrNotExist), and nothing is created, unless d.DownloadExplicit
//     asks for the archive to be downloaded there.
//
// Only a path naming a .tar.gz or .tgz file is downloaded to; a missing
// directory is an error.
func Ensure(ctx context.Context, explicit string, d *Downloader) (string, error) {
	path, given, err := locate(explicit)
	if err != nil {
		return "", err
	}
	_, err = os.Stat(path)
	if err == nil {
		return path, nil
	} else if !os.IsNotExist(err) {
		return "", errors.Wrap(err, "cifar10")
	}
	if d == nil {
		d = &Downloader{}
	}
	if given && !d.DownloadExplicit {
		e := &missingError{path: path, err: err}
		if explicit == "" {
			e.from = "$" + EnvVar
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			e.err = pe.Err // the reason alone: the message names the path already
		}
		return "", e
	}
	if !strings.HasSuffix(path, ".tar.gz") && !strings.HasSuffix(path, ".tgz") {
		return "", errors.Errorf("cifar10: %s does not exist (want the extracted %s directory or a .tar.gz path to download %s to)", path, batchesDir, ArchiveName)
	}
	if err := d.Download(ctx, path); err != nil {
		return "", err
	}
	return path, nil
}

// missingError is Ensure's error for a path that was given but does not
// exist.
type missingError struct {
	path string
	from string // "$CIFAR10_DATA" when it named the path; "" when explicit
	err  error  // why: no such file or directory
}

func (e *missingError) Error() string {
	from := ""
	if e.from != "" {
		from = e.from + " names it; "
	}
	return fmt.Sprintf("cifar10: %s: %v; %swant the CIFAR-10 archive (%s) or its extracted %s directory there (a path given is downloaded to only on request)",
		e.path, e.err, from, ArchiveName, batchesDir)
}

// Unwrap returns why the path is missing, so errors.Is(err, fs.ErrNotExist)
// holds.
func (e *missingError) Unwrap() error { return e.err }

// Downloader fetches the archive over HTTP. The zero value downloads the
// official archive with http.DefaultClient and prints nothing.
//
// The download goes to dest+".part", which is fsynced and renamed to dest only
// once whole and matching the MD5, so dest never holds a partial file. An
// interrupted download leaves the .part file behind; the next attempt (in the
// same call, or a later one) resumes it with an HTTP Range request and starts
// over if the server does not honour it.
type Downloader struct {
	URL      string       // "" means ArchiveURL
	MD5      string       // expected hex MD5; "" means ArchiveMD5
	Client   *http.Client // nil means http.DefaultClient
	Progress io.Writer    // if not nil, receives a progress line: bytes, rate and ETA
	Attempts int          // tries before giving up on network failures; 0 means 5

	// DownloadExplicit makes Ensure download the archive to a path given
	// explicitly or in $CIFAR10_DATA that does not exist, as it does to the
	// default location, instead of failing.
	DownloadExplicit bool
}

// Download fetches the archive to dest, creating its directory. Calls for
// one dest, in this process or others, take turns under the lock file
// dest+".lock"; one that finds dest there when its turn comes returns.
func (d *Downloader) Download(ctx context.Context, dest string) error {
	url, want := d.URL, strings.ToLower(d.MD5)
	if url == "" {
		url = ArchiveURL
	}
	if want == "" {
		want = ArchiveMD5
	}
	attempts := d.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return errors.Wrap(err, "cifar10: download")
	}
	// Processes downloading to one dest (cluster jobs on a shared volume)
	// take turns; the ones after the first find the archive there.
	lock, err := filelock.Wait(dest + ".lock")
	if err != nil {
		return errors.Wrap(err, "cifar10: download")
	}
	defer lock.Unlock()
	if _, err := os.Stat(dest); err == nil {
		return nil
	}
	p := newProgress(d.Progress, filepath.Base(dest))
	for attempt := 1; ; attempt++ {
		got, retry, err := d.try(ctx, url, want, dest, p)
		if err == nil || !retry || attempt == attempts || ctx.Err() != nil {
			return err
		}
		if got > 0 {
			continue // the connection dropped midway: resume at once
		}
		select { // nothing came through: give the server a moment
		case <-time.After(time.Duration(attempt) * time.Second):
		case <-ctx.Done():
			return errors.Wrap(ctx.Err(), "cifar10: download")
		}
	}
}

// try makes one request. It returns the bytes received and whether another
// attempt could succeed.
func (d *Downloader) try(ctx context.Context, url, want, dest string, p *progress) (received int64, retry bool, err error) {
	part := dest + ".part"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, false, errors.Wrap(err, "cifar10: download")
	}
	defer func() {
		if f != nil {
			// Keep what arrived for the next attempt to resume.
			f.Sync()
			f.Close()
		}
	}()
	sum := md5.New()
	offset, err := io.Copy(sum, f) // hash what an earlier attempt left, and seek to its end
	if err != nil {
		return 0, false, errors.Wrapf(err, "cifar10: reading %s", part)
	}

	// A connection that stops delivering would otherwise hang the download
	// forever: cancel the request when no bytes arrive for stallTimeout.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(stallTimeout, func() { cancel(errStalled) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false, errors.Wrap(err, "cifar10: download")
	}
	req.Header.Set("Accept-Encoding", "identity") // byte offsets must be those of the file
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, true, errors.Wrapf(err, "cifar10: download %s", url)
	}
	defer resp.Body.Close()

	total := int64(-1)
	switch resp.StatusCode {
	case http.StatusOK:
		if offset > 0 { // the server ignored the range: start over
			if err := restart(f, sum); err != nil {
				return 0, false, errors.Wrapf(err, "cifar10: truncating %s", part)
			}
			offset = 0
		}
		total = resp.ContentLength
	case http.StatusPartialContent:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			restart(f, sum)
			return 0, true, errors.Errorf("cifar10: download %s: asked for bytes from %d, got Content-Range %q", url, offset, resp.Header.Get("Content-Range"))
		}
		total = size
	case http.StatusRequestedRangeNotSatisfiable:
		// Nothing after offset: the .part file may be whole already.
		if hex.EncodeToString(sum.Sum(nil)) == want {
			return 0, false, d.finish(&f, part, dest)
		}
		restart(f, sum)
		return 0, true, errors.Errorf("cifar10: download %s: server has nothing after byte %d of a file that does not match", url, offset)
	default:
		retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
		return 0, retry, errors.Errorf("cifar10: download %s: %s", url, resp.Status)
	}

	p.begin(offset, total)
	buf := make([]byte, 256<<10)
	alive := writerFunc(func(b []byte) (int, error) { watchdog.Reset(stallTimeout); return len(b), nil })
	received, err = io.CopyBuffer(io.MultiWriter(f, sum, p, alive), resp.Body, buf)
	if context.Cause(ctx) == errStalled {
		err = errStalled
	}
	if err == nil && total >= 0 && offset+received != total {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		p.end()
		return received, true, errors.Wrapf(err, "cifar10: download %s interrupted at byte %d of %d (kept in %s)", url, offset+received, total, part)
	}
	p.end()
	if got := hex.EncodeToString(sum.Sum(nil)); got != want {
		f.Close()
		f = nil
		os.Remove(part) // useless to resume from
		// A resumed file may mix two versions of the archive; a fresh download
		// could still succeed, a fresh download that fails will again.
		return received, offset > 0, errors.Errorf("cifar10: download %s: checksum mismatch: MD5 %s, want %s", url, got, want)
	}
	return received, false, d.finish(&f, part, dest)
}

// stallTimeout is how long a download may receive nothing before it is
// abandoned (and retried).
const stallTimeout = time.Minute

var errStalled = errors.New("no data received for a minute")

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }

// finish makes the verified part file the destination, durably.
func (d *Downloader) finish(f **os.File, part, dest string) error {
	err := (*f).Sync()
	if cerr := (*f).Close(); err == nil {
		err = cerr
	}
	*f = nil
	if err != nil {
		return errors.Wrapf(err, "cifar10: writing %s", part)
	}
	if err := os.Rename(part, dest); err != nil {
		return errors.Wrap(err, "cifar10: download")
	}
	// Make the rename itself durable.
	if dir, err := os.Open(filepath.Dir(dest)); err == nil {
		dir.Sync()
		dir.Close()
	}
	return nil
}

func restart(f *os.File, sum hash.Hash) error {
	sum.Reset()
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// parseContentRange parses "bytes START-END/SIZE"; size is -1 for "*".
func parseContentRange(s string) (start, size int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	span, sizeText, found := strings.Cut(rest, "/")
	startText, _, found2 := strings.Cut(span, "-")
	if !found || !found2 {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(startText, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	size = -1
	if sizeText != "*" {
		if size, err = strconv.ParseInt(sizeText, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, size, true
}

// progress shows a download's progress on a progress line: redrawn in
// place on a terminal, a plain line now and then elsewhere (a log file).
type progress struct {
	line        *pline.Line // nil: no output
	name        string
	total, done int64
	startDone   int64 // done when this request began, for the rate
	start       time.Time
}

func newProgress(w io.Writer, name string) *progress {
	p := &progress{name: name}
	if w != nil {
		p.line = pline.New(w, pline.IsTerminal(w))
	}
	return p
}

func (p *progress) begin(done, total int64) {
	p.done, p.startDone, p.total = done, done, total
	p.start = time.Now()
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.line != nil && p.line.Due() {
		p.draw()
	}
	return len(b), nil
}

// end draws the final state and ends the line.
func (p *progress) end() {
	if p.line != nil {
		p.draw()
		p.line.End()
	}
}

// draw draws the name, percentage, bytes, rate, ETA and, with room on a
// terminal, a bar; a narrow terminal loses the rate first, then the bytes.
func (p *progress) draw() {
	elapsed := time.Since(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done-p.startDone) / elapsed
	}
	speed := pline.Field{Text: bytesText(int64(rate)) + "/s", Rank: 1}
	if p.total <= 0 { // size unknown
		p.line.Draw(-1, pline.Field{Text: p.name, Rank: 3}, pline.Field{Text: bytesText(p.done), Rank: 2}, speed)
		return
	}
	frac := min(float64(p.done)/float64(p.total), 1)
	p.line.Draw(frac,
		pline.Field{Text: p.name, Rank: 3},
		pline.Field{Text: fmt.Sprintf("%.1f%%", 100*frac), Rank: 5},
		pline.Field{Text: bytesText(p.done) + " / " + bytesText(p.total), Rank: 2},
		speed,
		pline.Field{Text: pline.ETA(float64(p.total-p.done), rate), Rank: 4},
	)
}

// bytesText formats n bytes in decimal units, as download sizes usually are.
func bytesText(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
