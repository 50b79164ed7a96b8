package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"time"

	abcicli "github.com/cometbft/cometbft/abci/client"
	"github.com/cometbft/cometbft/abci/types"
	cmtnet "github.com/cometbft/cometbft/libs/net"
	"github.com/cometbft/cometbft/libs/service"
)

// queueLength bounds the requests waiting to be written. When it is full a
// caller waits, as with CometBFT's own client (256): the mempool cannot run
// ahead of the application without limit.
const queueLength = 1024

// writeBufferBytes is the size of the buffered writer. Under load many CheckTx
// requests (a few hundred bytes each) go out in one write; a full buffer is
// written at once, so a large block is never held back.
const writeBufferBytes = 64 * 1024

// dialRetry is how long the client waits between attempts to reach the app
// while it starts (the Urbis node starts its ABCI server before this process,
// so one attempt is usually enough).
const dialRetry = 200 * time.Millisecond

// ErrStopped is returned by calls made after the client stopped.
var ErrStopped = errors.New("abci client stopped")

// inflight is one request on its way: the ReqRes CometBFT sees, and a channel
// closed once its response (or the client's end) has arrived.
type inflight struct {
	reqRes *abcicli.ReqRes
	done   chan struct{}
}

// Client is an ABCI socket client without a flush timer.
//
// Requests are written in the order they are queued, through one buffered
// writer that is flushed whenever the queue is empty: one request alone goes
// out at once, and a burst of CheckTx goes out in as few writes as the burst
// allows. Responses must come back in the same order, each of the kind of
// its request. Any error (dial after start, read, write, a response out of
// order or of the wrong kind, an Exception from the app) stops the client;
// CometBFT then stops the node rather than go on without its application.
type Client struct {
	service.BaseService

	addr        string
	mustConnect bool
	dial        func(addr string) (net.Conn, error)

	queue chan *inflight

	mtx      sync.Mutex
	conn     net.Conn
	err      error
	sent     []*inflight // written, awaiting their responses, oldest first
	callback abcicli.Callback
}

var _ abcicli.Client = (*Client)(nil)

// NewClient makes a client for addr ("unix:///path" or "tcp://host:port").
// With mustConnect false, Start keeps trying until the app listens.
func NewClient(addr string, mustConnect bool) *Client {
	c := &Client{
		addr:        addr,
		mustConnect: mustConnect,
		queue:       make(chan *inflight, queueLength),
		dial:        cmtnet.Connect,
	}
	c.BaseService = *service.NewBaseService(nil, "urbisABCIClient", c)
	return c
}

// OnStart connects and starts the writer and the reader.
func (c *Client) OnStart() error {
	for {
		conn, err := c.dial(c.addr)
		if err == nil {
			c.mtx.Lock()
			c.conn = conn
			c.mtx.Unlock()
			go c.writeRequests(conn)
			go c.readResponses(conn)
			return nil
		}
		if c.mustConnect {
			return err
		}
		c.Logger.Info("waiting for the app", "addr", c.addr, "err", err)
		select {
		case <-time.After(dialRetry):
		case <-c.Quit():
			return ErrStopped
		}
	}
}

// OnStop closes the connection and releases every waiter; their calls return
// the client's error.
func (c *Client) OnStop() {
	c.mtx.Lock()
	if c.conn != nil {
		c.conn.Close()
	}
	if c.err == nil {
		c.err = ErrStopped
	}
	sent := c.sent
	c.sent = nil
	c.mtx.Unlock()
	for _, f := range sent {
		release(f)
	}
	for {
		select {
		case f := <-c.queue:
			release(f)
		default:
			return
		}
	}
}

func release(f *inflight) {
	f.reqRes.Done()
	close(f.done)
}

// Error is the reason the client stopped (nil while it runs).
func (c *Client) Error() error {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	if c.IsRunning() {
		return nil
	}
	return c.err
}

func (c *Client) stopFor(err error) {
	c.mtx.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mtx.Unlock()
	if c.IsRunning() {
		c.Logger.Error("stopping the ABCI client", "err", err)
		_ = c.Stop()
	}
}

// writeRequests writes queued requests in order, flushing when none is left.
func (c *Client) writeRequests(conn net.Conn) {
	w := bufio.NewWriterSize(conn, writeBufferBytes)
	for {
		var f *inflight
		select {
		case f = <-c.queue:
		case <-c.Quit():
			return
		}
		for f != nil {
			if !c.track(f) {
				release(f)
				return
			}
			if err := types.WriteMessage(f.reqRes.Request, w); err != nil {
				c.stopFor(fmt.Errorf("write request: %w", err))
				return
			}
			select {
			case f = <-c.queue:
			default:
				f = nil
			}
		}
		if err := w.Flush(); err != nil {
			c.stopFor(fmt.Errorf("flush requests: %w", err))
			return
		}
	}
}

// track records f as sent before its bytes leave, so its response always
// finds it. False once the client has stopped.
func (c *Client) track(f *inflight) bool {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	if c.err != nil {
		return false
	}
	c.sent = append(c.sent, f)
	return true
}

// readResponses matches each response to the oldest request sent.
func (c *Client) readResponses(conn net.Conn) {
	r := bufio.NewReaderSize(conn, writeBufferBytes)
	for {
		res := &types.Response{}
		if err := types.ReadMessage(r, res); err != nil {
			c.stopFor(fmt.Errorf("read response: %w", err))
			return
		}
		if exception, ok := res.Value.(*types.Response_Exception); ok {
			c.stopFor(fmt.Errorf("the app answered with an exception: %s", exception.Exception.Error))
			return
		}
		c.mtx.Lock()
		if len(c.sent) == 0 {
			c.mtx.Unlock()
			c.stopFor(fmt.Errorf("response %T arrived with no request waiting", res.Value))
			return
		}
		f := c.sent[0]
		if !answers(f.reqRes.Request, res) {
			c.mtx.Unlock()
			c.stopFor(fmt.Errorf("response %T arrived for request %T", res.Value, f.reqRes.Request.Value))
			return
		}
		c.sent[0] = nil
		c.sent = c.sent[1:]
		callback := c.callback
		c.mtx.Unlock()

		f.reqRes.Response = res
		f.reqRes.Done()
		close(f.done)
		if callback != nil {
			callback(f.reqRes.Request, res)
		}
		f.reqRes.InvokeCallback()
	}
}

// answers tells whether res is of the kind that answers req: the oneof
// wrappers are named Request_<Kind> and Response_<Kind>.
func answers(req *types.Request, res *types.Response) bool {
	if req == nil || req.Value == nil || res.Value == nil {
		return false
	}
	asked := strings.TrimPrefix(reflect.TypeOf(req.Value).Elem().Name(), "Request_")
	answered := strings.TrimPrefix(reflect.TypeOf(res.Value).Elem().Name(), "Response_")
	return asked == answered
}

// send queues req; it is written as soon as the writer reaches it.
func (c *Client) send(ctx context.Context, req *types.Request) (*inflight, error) {
	f := &inflight{reqRes: abcicli.NewReqRes(req), done: make(chan struct{})}
	select {
	case <-c.Quit():
		return nil, c.stoppedError()
	default:
	}
	select {
	case c.queue <- f:
		return f, nil
	case <-c.Quit():
		return nil, c.stoppedError()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Client) stoppedError() error {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrStopped
}

// call sends req and waits for its response.
func call[T any](c *Client, ctx context.Context, req *types.Request, get func(*types.Response) T) (T, error) {
	var zero T
	f, err := c.send(ctx, req)
	if err != nil {
		return zero, err
	}
	select {
	case <-f.done:
	case <-c.Quit():
		select {
		case <-f.done:
		default:
			return zero, c.stoppedError()
		}
	}
	if f.reqRes.Response == nil {
		return zero, c.stoppedError()
	}
	return get(f.reqRes.Response), nil
}

// SetResponseCallback sets the callback run for every response, before the
// request's own callback (the mempool handles rechecks here).
func (c *Client) SetResponseCallback(cb abcicli.Callback) {
	c.mtx.Lock()
	c.callback = cb
	c.mtx.Unlock()
}

// CheckTxAsync queues a CheckTx; its answer arrives through the callbacks.
func (c *Client) CheckTxAsync(ctx context.Context, req *types.RequestCheckTx) (*abcicli.ReqRes, error) {
	f, err := c.send(ctx, types.ToRequestCheckTx(req))
	if err != nil {
		return nil, err
	}
	return f.reqRes, nil
}

// Flush sends a Flush request and waits for the app's answer: every request
// queued before it has then been answered.
func (c *Client) Flush(ctx context.Context) error {
	_, err := call(c, ctx, types.ToRequestFlush(), (*types.Response).GetFlush)
	return err
}

func (c *Client) Echo(ctx context.Context, msg string) (*types.ResponseEcho, error) {
	return call(c, ctx, types.ToRequestEcho(msg), (*types.Response).GetEcho)
}

func (c *Client) Info(ctx context.Context, req *types.RequestInfo) (*types.ResponseInfo, error) {
	return call(c, ctx, types.ToRequestInfo(req), (*types.Response).GetInfo)
}

func (c *Client) Query(ctx context.Context, req *types.RequestQuery) (*types.ResponseQuery, error) {
	return call(c, ctx, types.ToRequestQuery(req), (*types.Response).GetQuery)
}

func (c *Client) CheckTx(ctx context.Context, req *types.RequestCheckTx) (*types.ResponseCheckTx, error) {
	return call(c, ctx, types.ToRequestCheckTx(req), (*types.Response).GetCheckTx)
}

func (c *Client) InitChain(ctx context.Context, req *types.RequestInitChain) (*types.ResponseInitChain, error) {
	return call(c, ctx, types.ToRequestInitChain(req), (*types.Response).GetInitChain)
}

func (c *Client) PrepareProposal(ctx context.Context, req *types.RequestPrepareProposal) (*types.ResponsePrepareProposal, error) {
	return call(c, ctx, types.ToRequestPrepareProposal(req), (*types.Response).GetPrepareProposal)
}

func (c *Client) ProcessProposal(ctx context.Context, req *types.RequestProcessProposal) (*types.ResponseProcessProposal, error) {
	return call(c, ctx, types.ToRequestProcessProposal(req), (*types.Response).GetProcessProposal)
}

func (c *Client) FinalizeBlock(ctx context.Context, req *types.RequestFinalizeBlock) (*types.ResponseFinalizeBlock, error) {
	return call(c, ctx, types.ToRequestFinalizeBlock(req), (*types.Response).GetFinalizeBlock)
}

func (c *Client) ExtendVote(ctx context.Context, req *types.RequestExtendVote) (*types.ResponseExtendVote, error) {
	return call(c, ctx, types.ToRequestExtendVote(req), (*types.Response).GetExtendVote)
}

func (c *Client) VerifyVoteExtension(ctx context.Context, req *types.RequestVerifyVoteExtension) (*types.ResponseVerifyVoteExtension, error) {
	return call(c, ctx, types.ToRequestVerifyVoteExtension(req), (*types.Response).GetVerifyVoteExtension)
}

func (c *Client) Commit(ctx context.Context, _ *types.RequestCommit) (*types.ResponseCommit, error) {
	return call(c, ctx, types.ToRequestCommit(), (*types.Response).GetCommit)
}

func (c *Client) ListSnapshots(ctx context.Context, req *types.RequestListSnapshots) (*types.ResponseListSnapshots, error) {
	return call(c, ctx, types.ToRequestListSnapshots(req), (*types.Response).GetListSnapshots)
}

func (c *Client) OfferSnapshot(ctx context.Context, req *types.RequestOfferSnapshot) (*types.ResponseOfferSnapshot, error) {
	return call(c, ctx, types.ToRequestOfferSnapshot(req), (*types.Response).GetOfferSnapshot)
}

func (c *Client) LoadSnapshotChunk(ctx context.Context, req *types.RequestLoadSnapshotChunk) (*types.ResponseLoadSnapshotChunk, error) {
	return call(c, ctx, types.ToRequestLoadSnapshotChunk(req), (*types.Response).GetLoadSnapshotChunk)
}

func (c *Client) ApplySnapshotChunk(ctx context.Context, req *types.RequestApplySnapshotChunk) (*types.ResponseApplySnapshotChunk, error) {
	return call(c, ctx, types.ToRequestApplySnapshotChunk(req), (*types.Response).GetApplySnapshotChunk)
}
