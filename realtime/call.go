package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The caller (protocol §5.5, Open WebUI's get_event_call): send one socket
// `events` with an ack id and wait for its answer. The socket may live on
// another instance: the caller asks every instance (CommandCall), the one
// holding the socket emits and sends the answer back (CommandCallReply or
// CommandCallGone, naming the call). Whether a socket belongs to an
// account is the presence Manager's answer, shared by all instances as
// Open WebUI's SESSION_POOL is.

// Errors of Call; CallError turns them into Open WebUI's answer values.
var (
	ErrSessionGone = errors.New("realtime: the socket is not a live socket of that account")
	ErrCallTimeout = errors.New("realtime: the socket did not answer in time")
)

// CallError is the value Open WebUI's event caller returns for a failed
// call: {"error": "Client session disconnected."} when the socket is not
// the account's (or left), the timeout message on a timeout.
func CallError(err error) json.RawMessage {
	switch {
	case errors.Is(err, ErrSessionGone):
		return json.RawMessage(`{"error":"Client session disconnected."}`)
	case errors.Is(err, ErrCallTimeout):
		return json.RawMessage(`{"error":"Event call timed out. The browser tab may be inactive or closed."}`)
	}
	return json.RawMessage(`{"error":"Event call failed."}`)
}

// OwnsSession reports whether sid is a live socket of userID, here or on
// another instance.
func (s *Server) OwnsSession(ctx context.Context, userID, sid string) (bool, error) {
	if v, ok := s.conns.Load(sid); ok {
		c := v.(*conn)
		u := c.user.Load()
		return u != nil && u.ID == userID && !c.gone.Load(), nil
	}
	return s.cfg.Presence.Owns(ctx, userID, sid)
}

// Call sends socket sid, which must be userID's, the event `events` with
// payload (one encoded JSON value, e.g. {chat_id, message_id, data: {type,
// data}}) and returns the value the socket acknowledges it with (JSON;
// null when it acks with nothing). Errors: ErrSessionGone when sid is not
// a live socket of userID or leaves before answering, ErrCallTimeout after
// timeout (zero or less: no limit but ctx), ctx's cause.
//
// A socket that never answers keeps its call's ack callback (a few hundred
// bytes) until it disconnects, as the Socket.IO library does.
func (s *Server) Call(ctx context.Context, sid, userID string, payload []byte, timeout time.Duration) (json.RawMessage, error) {
	if !json.Valid(payload) {
		return nil, fmt.Errorf("%w: the payload is not one JSON value", ErrBadEmit)
	}
	owns, err := s.OwnsSession(ctx, userID, sid)
	if err != nil {
		return nil, err
	}
	if !owns {
		return nil, ErrSessionGone
	}
	type result struct {
		ack json.RawMessage
		err error
	}
	res := make(chan result, 1)
	id := s.cfg.Instance + "/" + strconv.FormatUint(s.calls.seq.Add(1), 10)
	s.calls.add(id, sid, func(ack json.RawMessage, err error) { res <- result{ack, err} })
	defer s.calls.finish(id, nil, context.Canceled) // forget it, whatever happened

	if v, ok := s.conns.Load(sid); ok {
		v.(*conn).call(id, userID, payload)
	} else {
		err := s.broker.Command(ctx, Command{Kind: CommandCall, SID: sid, UserID: userID, CallID: id,
			Payload: payload, Origin: Origin{Instance: s.cfg.Instance}})
		if err != nil {
			return nil, err
		}
	}
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case r := <-res:
		return r.ack, r.err
	case <-expired:
		return nil, ErrCallTimeout
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// answerCall runs another instance's call if the socket is here: the
// answer goes back to every instance, where the caller picks it up.
func (s *Server) answerCall(c Command) {
	v, ok := s.conns.Load(c.SID)
	if !ok {
		return // not ours
	}
	s.calls.add(c.CallID, c.SID, func(ack json.RawMessage, err error) {
		kind := CommandCallReply
		if err != nil {
			kind = CommandCallGone
		}
		s.command(Command{Kind: kind, CallID: c.CallID, Payload: ack})
	})
	v.(*conn).call(c.CallID, c.UserID, c.Payload)
}

// call emits the call to the socket; its ack, or its leaving, finishes the
// call (registered under id). The account check and the emit are one step
// under calls.emitMu: a socket that user-joined another account in between
// would have shown the old account's call to the new account's page.
func (c *conn) call(id, userID string, payload []byte) {
	c.srv.calls.emitMu.Lock()
	err := c.callLocked(id, userID, payload)
	c.srv.calls.emitMu.Unlock()
	if err != nil {
		c.srv.calls.finish(id, nil, err)
	}
}

func (c *conn) callLocked(id, userID string, payload []byte) error {
	if u := c.user.Load(); u == nil || u.ID != userID {
		return ErrSessionGone
	}
	// A socket that left before the call was registered is not in
	// calls.socketGone's sweep: check after registering.
	if c.gone.Load() {
		return ErrSessionGone
	}
	if hook, found := callChecked.Load(c.srv); found {
		hook.(func())()
	}
	// Call keeps its own timer.
	return c.sock.emit(EventsName, preEncoded(payload), func(args []any) {
		c.srv.calls.finish(id, ackValue(args), nil)
	})
}

// callChecked, when set for a Server (tests only), runs in call between
// the account check and the emit.
var callChecked sync.Map // *Server → func()

// ackValue is the JSON of an ack's first argument (null for none).
func ackValue(args []any) json.RawMessage {
	if len(args) == 0 {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(args[0])
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// calls are the calls waiting for a socket of this instance, or waiting
// here for another instance's answer.
type calls struct {
	seq     atomic.Uint64
	mu      sync.Mutex
	pending map[string]pendingCall
	// emitMu: a call's account check and its emit (conn.call) are one step
	// against a socket's change of account (switchAccount). One per
	// Server, not per socket: calls and changes are rare, sockets many.
	emitMu sync.Mutex
}

type pendingCall struct {
	sid  string
	done func(ack json.RawMessage, err error)
}

func (cs *calls) add(id, sid string, done func(json.RawMessage, error)) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.pending == nil {
		cs.pending = map[string]pendingCall{}
	}
	cs.pending[id] = pendingCall{sid: sid, done: done}
}

// finish ends call id with ack or err, once; an unknown id (finished, or
// another instance's) is ignored.
func (cs *calls) finish(id string, ack json.RawMessage, err error) {
	cs.mu.Lock()
	p, ok := cs.pending[id]
	delete(cs.pending, id)
	cs.mu.Unlock()
	if ok {
		p.done(ack, err)
	}
}

// socketGone ends the calls waiting for socket sid with ErrSessionGone.
func (cs *calls) socketGone(sid string) {
	cs.mu.Lock()
	var gone []string
	for id, p := range cs.pending {
		if p.sid == sid {
			gone = append(gone, id)
		}
	}
	cs.mu.Unlock()
	for _, id := range gone {
		cs.finish(id, nil, ErrSessionGone)
	}
}
