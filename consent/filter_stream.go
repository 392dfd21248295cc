package consent

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// FlushDelay is the longest kept bytes wait in the filter's buffer when dst can flush
// (it has FlushError() error, Flush() error or Flush()): a slow answer that is mostly
// dropped still reaches the client as it comes.
const FlushDelay = 50 * time.Millisecond

// FilterStream writes to dst what of the upstream answer src the consent lets the TPP see
// on the endpoint, reading it token by token and holding at most one list item (bounded by
// lim) at a time:
//
//   - the answer is one object of Data, Links and Meta as UK OB v3.1 writes them; Data holds
//     only the endpoint's list of objects (a Party answer may hold one object). Any other
//     shape, a name twice in any object, or invalid JSON is an error.
//   - an item is shown only if its one AccountId is a string the user selected (Party
//     items, which name no account, excepted); a transaction only if it goes in a consented
//     direction (its CreditDebitIndicator) and, with a consent window, has a BookingDateTime
//     inside it; Detail-only fields are removed for a Basic consent, and without ReadPAN
//     the Identification of a UK.OBIE.PAN is masked.
//
// Kept bytes are copied through as they came. The answer's closing brace is written only
// once all of it passed, so a body cut short by an error is never valid JSON; on an error
// the caller must still abort the response rather than end it (dst may hold part of it).
func (c *Consent) FilterStream(dst io.Writer, src io.Reader, ep Endpoint, lim Limits) error {
	lim = lim.withDefaults()
	f := newFilter(c, ep, lim)
	defer f.release()
	f.in = limitedReader{r: src, maxBody: lim.MaxBody, maxValue: lim.MaxValue, end: lim.MaxValue}
	f.dec.Reset(&f.in) // duplicate names and invalid UTF-8 are errors by default
	f.out.reset(dst)
	err := f.answer()
	if err == nil && f.in.n > lim.MaxBody {
		err = ErrBodyTooLarge
	}
	if err != nil {
		f.out.abort()
		if f.in.err != nil {
			return f.in.err // the cap, not the decoder's wrapping of it
		}
		return err
	}
	return f.out.close()
}

// AppendFilter is FilterStream on a body in memory: it appends to dst what the consent
// lets the TPP see, by the same rules and caps, reading the body where it is. On an error
// it returns dst as it was.
func (c *Consent) AppendFilter(dst, body []byte, ep Endpoint, lim Limits) ([]byte, error) {
	lim = lim.withDefaults()
	if int64(len(body)) > lim.MaxBody {
		return dst, fmt.Errorf("%w (%d bytes)", ErrBodyTooLarge, lim.MaxBody)
	}
	f := newFilter(c, ep, lim)
	defer f.release()
	f.mem = true
	f.src, f.size = *bytes.NewBuffer(body), int64(len(body))
	f.dec.Reset(&f.src) // a bytes.Buffer is read in place
	f.out.reset(nil)
	f.out.buf = dst
	err := f.answer()
	out := f.out.buf
	f.out.buf = nil // the caller's
	if err != nil {
		return dst, err
	}
	return out, nil
}

type filter struct {
	c    *Consent
	ep   Endpoint
	rule itemRule
	lim  Limits
	// The stream's reader, or (mem) the body in memory.
	in   limitedReader
	src  bytes.Buffer
	size int64
	mem  bool
	dec  jsontext.Decoder
	out  output
	// mark is where the value being read started; span the longest value read.
	mark, span int64
	first      bool // the next item is the first of its list
	ms         []member
	edits      []edit
	scratch    []byte
}

// filters recycles the filter and its decoder: on a small answer, setting them up
// anew cost more than filtering.
var filters = sync.Pool{New: func() any { return new(filter) }}

func newFilter(c *Consent, ep Endpoint, lim Limits) *filter {
	f := filters.Get().(*filter)
	f.c, f.ep, f.rule, f.lim = c, ep, c.itemRule(ep), lim
	f.mark, f.span, f.first = 0, 0, false
	return f
}

// pooledMax bounds what a recycled filter keeps of the largest answer it saw.
const pooledMax = 64 << 10

// release recycles f, unless a flush timer of its output may still run or it grew
// large; a recycled filter keeps no reference to the answer, its source or dst.
func (f *filter) release() {
	if f.out.timer != nil || f.span > pooledMax || cap(f.scratch) > pooledMax || cap(f.out.buf) > 2*outputSize || cap(f.ms) > 256 || cap(f.edits) > 256 {
		return
	}
	f.dec.Reset(noInput{}) // forgets the body it read in place
	f.c, f.rule = nil, itemRule{}
	f.in, f.src, f.mem = limitedReader{}, bytes.Buffer{}, false
	f.out.dst, f.out.flush, f.out.err = nil, nil, nil
	clear(f.ms[:cap(f.ms)]) // the members point into the answer
	clear(f.edits[:cap(f.edits)])
	filters.Put(f)
}

// noInput is the reader of an idle decoder.
type noInput struct{}

func (noInput) Read([]byte) (int, error) { return 0, io.EOF }

// window lets the decoder read one more value of at most lim.MaxValue bytes.
func (f *filter) window() {
	f.mark = f.dec.InputOffset()
	f.in.end = f.mark + f.lim.MaxValue
}

// read checks the value just read against the window: the stream's reader stops at its
// end, a body in memory is checked here.
func (f *filter) read(err error) error {
	n := f.dec.InputOffset() - f.mark
	f.span = max(f.span, n)
	if err == nil && f.mem && n > f.lim.MaxValue {
		return fmt.Errorf("%w (%d bytes, at byte %d)", ErrValueTooLarge, f.lim.MaxValue, f.mark)
	}
	return err
}

func (f *filter) readToken() error {
	_, err := f.dec.ReadToken()
	return f.read(err)
}

func (f *filter) readValue() (jsontext.Value, error) {
	v, err := f.dec.ReadValue()
	return v, f.read(err)
}

func shapeError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrShape}, args...)...)
}

// open reads the '{' or '[' the answer must have next.
func (f *filter) open(k jsontext.Kind, what string) error {
	f.window()
	if got := f.dec.PeekKind(); got != k && got != 0 {
		return shapeError("%s is %v, not %v", what, got, k)
	}
	return f.readToken() // at no kind, the decoder's error
}

// name reads the next name of an object, or its end (done). The name is the decoder's
// until its next read.
func (f *filter) name() (name string, done bool, err error) {
	f.window()
	if f.dec.PeekKind() == '}' {
		return "", true, f.readToken()
	}
	raw, err := f.readValue()
	if err != nil {
		return "", false, err
	}
	return unquoteName(raw[1 : len(raw)-1]), false, nil
}

func (f *filter) answer() error {
	if err := f.open('{', "the answer"); err != nil {
		return err
	}
	f.out.writeString("{")
	data := false
	for first := true; ; first = false {
		name, done, err := f.name()
		if err != nil {
			return err
		}
		if done {
			break
		}
		if !first {
			f.out.writeByte(',')
		}
		switch name {
		case "Data":
			data, err = true, f.data()
		case "Links":
			err = f.meta("Links", linkMember)
		case "Meta":
			err = f.meta("Meta", metaMember)
		default:
			err = shapeError("the answer has a member %q", name)
		}
		if err != nil {
			return err
		}
	}
	if !data {
		return shapeError("the answer has no Data")
	}
	f.window()
	if _, err := f.dec.ReadToken(); err != io.EOF {
		return errors.New("consent: data after the answer")
	}
	if f.mem && f.size-f.mark > f.lim.MaxValue {
		// Trailing whitespace, which the stream's reader would not read past the window.
		return fmt.Errorf("%w (%d bytes, at byte %d)", ErrValueTooLarge, f.lim.MaxValue, f.mark)
	}
	f.out.writeByte('}')
	return nil
}

// data filters Data: the endpoint's list, item by item.
func (f *filter) data() error {
	if err := f.open('{', "Data"); err != nil {
		return err
	}
	f.out.writeString(`"Data":{`)
	list, known := listMembers[f.ep.Resource]
	for {
		name, done, err := f.name()
		if err != nil {
			return err
		}
		if done {
			break
		}
		if !known || name != list {
			return shapeError("Data has a member %q on %s", name, f.ep.Resource)
		}
		f.window()
		f.first = true
		switch k := f.dec.PeekKind(); {
		case k == '{' && list == "Party":
			// One party, shown whole or not at all.
			f.out.writeString(`"Party":`)
			raw, err := f.readValue()
			if err != nil {
				return err
			}
			if err := f.item(raw); err != nil {
				return err
			}
			if f.first {
				f.out.writeString("{}")
			}
			continue
		case k != '[':
			return shapeError("Data.%s is not a list", list)
		}
		if err := f.list(list); err != nil {
			return err
		}
	}
	f.out.writeByte('}')
	return nil
}

func (f *filter) list(name string) error {
	if err := f.readToken(); err != nil {
		return err
	}
	f.out.writeString(`"`)
	f.out.writeString(name)
	f.out.writeString(`":[`)
	for {
		f.window()
		switch k := f.dec.PeekKind(); k {
		case ']':
			if err := f.readToken(); err != nil {
				return err
			}
			f.out.writeByte(']')
			return nil
		case '{':
		case 0:
			return f.readToken()
		default:
			return shapeError("an item of Data.%s is %v, not an object", name, k)
		}
		raw, err := f.readValue()
		if err != nil {
			return err
		}
		if err := f.item(raw); err != nil {
			return err
		}
	}
}

// meta copies Links or Meta, an object of the members OB gives it with the kinds it gives.
func (f *filter) meta(name string, allowed func(string) byte) error {
	f.window()
	if k := f.dec.PeekKind(); k != '{' {
		if k == 0 {
			return f.readToken()
		}
		return shapeError("%s is %v, not an object", name, k)
	}
	raw, err := f.readValue()
	if err != nil {
		return err
	}
	f.ms = members(raw, f.ms[:0])
	for _, m := range f.ms {
		n := unquoteName(m.name)
		kind := allowed(n)
		if v := raw[m.value]; kind == 0 || !(v == kind || kind == '0' && (v == '-' || v >= '0' && v <= '9')) {
			return shapeError("%s has a member %q of this kind", name, n)
		}
	}
	f.out.writeString(`"`)
	f.out.writeString(name)
	f.out.writeString(`":`)
	return f.out.write(raw)
}

// limitedReader reads src up to the caps: no byte past end (the current value's cap)
// nor past maxBody+1 (enough to tell the body is over).
type limitedReader struct {
	r       io.Reader
	n, end  int64
	maxBody int64
	// maxValue is the cap of one value, for the error.
	maxValue int64
	err      error
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	room := min(l.end, l.maxBody+1) - l.n
	if room <= 0 {
		if l.n > l.maxBody {
			l.err = fmt.Errorf("%w (%d bytes)", ErrBodyTooLarge, l.maxBody)
		} else {
			l.err = fmt.Errorf("%w (%d bytes, at byte %d)", ErrValueTooLarge, l.maxValue, l.n)
		}
		return 0, l.err
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	return n, err
}

// output buffers what the filter keeps for dst, writing it out when the buffer is full
// and, if dst can flush, at most FlushDelay after it was kept. Without dst (a body in
// memory) it only appends to buf.
type output struct {
	mu    sync.Mutex
	dst   io.Writer
	flush func() error
	buf   []byte
	timer *time.Timer
	armed bool
	done  bool
	err   error
	// kept: an item was kept. Until then nothing is flushed on time, so an answer that
	// fails before its first item (an item over the cap, a bad shape) has sent nothing and
	// can still be refused whole.
	kept bool
}

const outputSize = 32 << 10

func (o *output) reset(dst io.Writer) {
	*o = output{dst: dst, buf: o.buf[:0]}
	switch fl := dst.(type) {
	case interface{ FlushError() error }:
		o.flush = fl.FlushError
	case interface{ Flush() error }:
		o.flush = fl.Flush
	case interface{ Flush() }:
		o.flush = func() error { fl.Flush(); return nil }
	}
}

func (o *output) writeByte(b byte) {
	if o.dst == nil {
		o.buf = append(o.grow(1), b)
		return
	}
	o.write([]byte{b})
}

func (o *output) writeString(s string) {
	if o.dst == nil {
		o.buf = append(o.grow(len(s)), s...)
		return
	}
	o.write([]byte(s))
}

// grow makes room for n more bytes in buf, doubling it as bytes.Buffer does: append
// alone grows a large slice by a quarter, copying a large answer over and over.
func (o *output) grow(n int) []byte {
	if cap(o.buf)-len(o.buf) >= n {
		return o.buf
	}
	return slices.Grow(o.buf, max(n, cap(o.buf)))
}

// write keeps p; its error is dst's, so a client gone stops the filter.
func (o *output) write(p []byte) error { return o.put(p, false) }

// put keeps p for dst; kept says p is a kept item, from which on bytes are flushed on time.
func (o *output) put(p []byte, kept bool) error {
	if o.dst == nil {
		o.buf = append(o.grow(len(p)), p...)
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil || o.done {
		return o.err
	}
	o.kept = o.kept || kept
	o.buf = append(o.buf, p...)
	if len(o.buf) >= outputSize {
		o.writeOut()
	}
	if o.flush != nil && !o.armed && o.kept {
		o.armed = true
		if o.timer == nil {
			o.timer = time.AfterFunc(FlushDelay, o.tick)
		} else {
			o.timer.Reset(FlushDelay)
		}
	}
	return o.err
}

// keep writes a kept item (or Party).
func (o *output) keep(p []byte) error { return o.put(p, true) }

func (o *output) writeOut() {
	if len(o.buf) > 0 && o.err == nil {
		_, o.err = o.dst.Write(o.buf)
	}
	o.buf = o.buf[:0]
}

func (o *output) tick() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.armed = false
	if o.done {
		return
	}
	o.writeOut()
	if o.err == nil {
		o.err = o.flush()
	}
}

// close writes out what is left; nothing reaches dst after it.
func (o *output) close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stop()
	o.writeOut()
	if o.err == nil && o.flush != nil {
		o.err = o.flush()
	}
	return o.err
}

// abort drops what is left; nothing reaches dst after it.
func (o *output) abort() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stop()
	o.buf = o.buf[:0]
}

func (o *output) stop() {
	o.done = true
	if o.timer != nil {
		o.timer.Stop()
	}
}
