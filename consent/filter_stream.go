package consent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// FilterStream is Filter over a stream: it holds one list item at a time, so a body of
// any size passes in constant memory, and the first items reach dst before the upstream
// has sent the last. On an error part of the body may have been written; the caller must
// then cut the response short rather than end it cleanly.
func (c *Consent) FilterStream(dst io.Writer, src io.Reader, ep Endpoint) error {
	w := bufio.NewWriterSize(dst, 32<<10)
	dec := json.NewDecoder(src)
	dec.UseNumber()
	s := &streamFilter{c: c, ep: ep, hidden: c.HiddenFields(ep.Resource), dec: dec, w: w}
	if err := s.object(s.topMember); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("consent: data after the JSON body")
	}
	if err := w.WriteByte('\n'); err != nil {
		return err
	}
	return w.Flush()
}

type streamFilter struct {
	c      *Consent
	ep     Endpoint
	hidden []string
	dec    *json.Decoder
	w      *bufio.Writer
}

// object reads an object whose '{' is next, writing it member by member through member.
func (s *streamFilter) object(member func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	s.w.WriteByte('{')
	for first := true; s.dec.More(); first = false {
		tok, err := s.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if !first {
			s.w.WriteByte(',')
		}
		if err := s.scalar(key); err != nil {
			return err
		}
		s.w.WriteByte(':')
		if err := member(key); err != nil {
			return err
		}
	}
	if _, err := s.dec.Token(); err != nil {
		return err
	}
	return s.w.WriteByte('}')
}

func (s *streamFilter) topMember(key string) error {
	if key == "Data" {
		return s.object(s.dataMember)
	}
	return s.copyValue()
}

// dataMember filters a list under Data item by item and copies anything else.
func (s *streamFilter) dataMember(string) error {
	tok, err := s.dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		return s.restOfObject()
	default:
		return s.scalar(tok)
	}
	s.w.WriteByte('[')
	var raw json.RawMessage
	for first := true; s.dec.More(); {
		raw = raw[:0]
		if err := s.dec.Decode(&raw); err != nil {
			return err
		}
		out, keep, err := s.c.filterItem(raw, s.ep, s.hidden)
		if err != nil {
			return err
		}
		if !keep {
			continue
		}
		if !first {
			s.w.WriteByte(',')
		}
		first = false
		s.w.Write(out)
	}
	if _, err := s.dec.Token(); err != nil {
		return err
	}
	return s.w.WriteByte(']')
}

// restOfObject copies an object whose '{' was read.
func (s *streamFilter) restOfObject() error {
	s.w.WriteByte('{')
	for first := true; s.dec.More(); first = false {
		tok, err := s.dec.Token()
		if err != nil {
			return err
		}
		if !first {
			s.w.WriteByte(',')
		}
		if err := s.scalar(tok); err != nil {
			return err
		}
		s.w.WriteByte(':')
		if err := s.copyValue(); err != nil {
			return err
		}
	}
	if _, err := s.dec.Token(); err != nil {
		return err
	}
	return s.w.WriteByte('}')
}

func (s *streamFilter) scalar(tok json.Token) error {
	if _, isDelim := tok.(json.Delim); isDelim {
		return fmt.Errorf("consent: unexpected %v in the body", tok)
	}
	b, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	_, err = s.w.Write(b)
	return err
}

func (s *streamFilter) copyValue() error {
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return err
	}
	_, err := s.w.Write(raw)
	return err
}

func (s *streamFilter) expect(d json.Delim) error {
	tok, err := s.dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("consent: expected %v in the body, found %v", d, tok)
	}
	return nil
}
