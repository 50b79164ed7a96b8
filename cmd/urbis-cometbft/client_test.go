package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	abcicli "github.com/cometbft/cometbft/abci/client"
	"github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/libs/log"
)

// app answers one request; returning nil closes the connection.
type app func(req *types.Request) *types.Response

// echoApp answers every request with a response of its kind; CheckTx answers
// carry the transaction back in Data, so a test can tell answers apart.
func echoApp(req *types.Request) *types.Response {
	switch r := req.Value.(type) {
	case *types.Request_Flush:
		return types.ToResponseFlush()
	case *types.Request_Echo:
		return types.ToResponseEcho(r.Echo.Message)
	case *types.Request_Info:
		return types.ToResponseInfo(&types.ResponseInfo{Data: "urbis-test"})
	case *types.Request_CheckTx:
		return types.ToResponseCheckTx(&types.ResponseCheckTx{Data: r.CheckTx.Tx})
	case *types.Request_Commit:
		return types.ToResponseCommit(&types.ResponseCommit{})
	case *types.Request_FinalizeBlock:
		return types.ToResponseFinalizeBlock(&types.ResponseFinalizeBlock{AppHash: []byte{byte(r.FinalizeBlock.Height)}})
	}
	return types.ToResponseException("unexpected request")
}

// server is a unix-socket ABCI app that records the requests it read.
type server struct {
	addr     string
	listener net.Listener
	mtx      sync.Mutex
	kinds    []string
}

func serve(t *testing.T, handle app) *server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "abci.sock")
	listener, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: "unix://" + path, listener: listener}
	t.Cleanup(func() { listener.Close() })
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go s.answer(conn, handle)
		}
	}()
	return s
}

func (s *server) answer(conn net.Conn, handle app) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		req := &types.Request{}
		if err := types.ReadMessage(r, req); err != nil {
			return
		}
		s.mtx.Lock()
		s.kinds = append(s.kinds, fmt.Sprintf("%T", req.Value))
		s.mtx.Unlock()
		res := handle(req)
		if res == nil {
			return
		}
		if err := types.WriteMessage(res, conn); err != nil {
			return
		}
	}
}

func (s *server) seen() []string {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	return append([]string(nil), s.kinds...)
}

func start(t *testing.T, c *Client) *Client {
	t.Helper()
	c.SetLogger(log.TestingLogger())
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func waitStopped(t *testing.T, c *Client) {
	t.Helper()
	select {
	case <-c.Quit():
	case <-time.After(10 * time.Second):
		t.Fatal("client did not stop")
	}
}

func TestSyncCallIsAnsweredWithoutAFlush(t *testing.T) {
	s := serve(t, echoApp)
	c := start(t, NewClient(s.addr, true))
	info, err := c.Info(context.Background(), &types.RequestInfo{})
	if err != nil || info.Data != "urbis-test" {
		t.Fatalf("info %v, err %v", info, err)
	}
	// The request went out alone, with no Flush request behind it: the writer
	// flushed its buffer because nothing else was queued.
	if got := s.seen(); len(got) != 1 || got[0] != "*types.Request_Info" {
		t.Fatalf("server read %v", got)
	}
}

func TestPipelinedResponsesMatchTheirRequestsInOrder(t *testing.T) {
	s := serve(t, echoApp)
	c := start(t, NewClient(s.addr, true))
	var order []int
	var orderMtx sync.Mutex
	c.SetResponseCallback(func(req *types.Request, res *types.Response) {
		if tx := req.GetCheckTx(); tx != nil {
			orderMtx.Lock()
			order = append(order, int(tx.Tx[0])<<8|int(tx.Tx[1]))
			orderMtx.Unlock()
		}
	})
	const count = 3000
	reqReses := make([]*abcicli.ReqRes, count)
	var wg sync.WaitGroup
	// Sync calls interleave with the async stream from other goroutines.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for h := int64(1); h <= 50; h++ {
			res, err := c.FinalizeBlock(context.Background(), &types.RequestFinalizeBlock{Height: h})
			if err != nil || res.AppHash[0] != byte(h) {
				t.Errorf("finalize %d: %v %v", h, res, err)
				return
			}
		}
	}()
	for i := 0; i < count; i++ {
		rr, err := c.CheckTxAsync(context.Background(), &types.RequestCheckTx{Tx: []byte{byte(i >> 8), byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		reqReses[i] = rr
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Flush was answered after everything queued before it.
	for i, rr := range reqReses {
		data := rr.Response.GetCheckTx().Data
		if len(data) != 2 || int(data[0])<<8|int(data[1]) != i {
			t.Fatalf("request %d got the answer %v", i, data)
		}
	}
	orderMtx.Lock()
	defer orderMtx.Unlock()
	for i, got := range order {
		if got != i {
			t.Fatalf("response callback %d was for request %d", i, got)
		}
	}
	if len(order) != count {
		t.Fatalf("%d callbacks for %d requests", len(order), count)
	}
}

func TestExplicitFlushIsSentAndAnswered(t *testing.T) {
	s := serve(t, echoApp)
	c := start(t, NewClient(s.addr, true))
	rr, err := c.CheckTxAsync(context.Background(), &types.RequestCheckTx{Tx: []byte("a")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rr.Response == nil {
		t.Fatal("Flush returned before the request queued ahead of it was answered")
	}
	got := s.seen()
	if len(got) != 2 || got[1] != "*types.Request_Flush" {
		t.Fatalf("server read %v", got)
	}
}

// countingConn counts writes; the first write waits until released.
type countingConn struct {
	net.Conn
	writes  atomic.Int32
	release chan struct{}
}

func (c *countingConn) Write(b []byte) (int, error) {
	if c.writes.Add(1) == 1 {
		<-c.release
	}
	return c.Conn.Write(b)
}

func TestABurstQueuedWhileWritingGoesOutInOneWrite(t *testing.T) {
	s := serve(t, echoApp)
	conn := &countingConn{release: make(chan struct{})}
	c := NewClient(s.addr, true)
	c.dial = func(addr string) (net.Conn, error) {
		inner, err := net.Dial("unix", addr[len("unix://"):])
		conn.Conn = inner
		return conn, err
	}
	start(t, c)
	first, err := c.CheckTxAsync(context.Background(), &types.RequestCheckTx{Tx: []byte("first")})
	if err != nil {
		t.Fatal(err)
	}
	for conn.writes.Load() == 0 { // the writer is now held inside its first write
		time.Sleep(time.Millisecond)
	}
	const burst = 200
	last := make([]*abcicli.ReqRes, 0, burst)
	for i := 0; i < burst; i++ {
		rr, err := c.CheckTxAsync(context.Background(), &types.RequestCheckTx{Tx: []byte{byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		last = append(last, rr)
	}
	close(conn.release)
	first.Wait()
	for _, rr := range last {
		rr.Wait()
	}
	if n := conn.writes.Load(); n != 2 {
		t.Fatalf("%d writes for 1 request and a burst of %d queued behind it; want 2", n, burst)
	}
}

func TestResponseOfTheWrongKindStopsTheClient(t *testing.T) {
	s := serve(t, func(req *types.Request) *types.Response {
		if req.GetInfo() != nil {
			return types.ToResponseCommit(&types.ResponseCommit{})
		}
		return echoApp(req)
	})
	c := start(t, NewClient(s.addr, true))
	if _, err := c.Echo(context.Background(), "before"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Info(context.Background(), &types.RequestInfo{})
	if err == nil {
		t.Fatal("a Commit answer to Info was accepted")
	}
	waitStopped(t, c)
	if c.Error() == nil {
		t.Fatal("stopped client reports no error")
	}
	if _, err := c.Echo(context.Background(), "after"); err == nil {
		t.Fatal("a stopped client accepted a call")
	}
	if _, err := c.CheckTxAsync(context.Background(), &types.RequestCheckTx{}); err == nil {
		t.Fatal("a stopped client accepted an async call")
	}
}

func TestAppExceptionStopsTheClient(t *testing.T) {
	s := serve(t, func(req *types.Request) *types.Response {
		if req.GetFinalizeBlock() != nil {
			return types.ToResponseException("disk full")
		}
		return echoApp(req)
	})
	c := start(t, NewClient(s.addr, true))
	_, err := c.FinalizeBlock(context.Background(), &types.RequestFinalizeBlock{Height: 1})
	if err == nil {
		t.Fatal("an exception was taken as an answer")
	}
	waitStopped(t, c)
	if c.Error() == nil || !strings.Contains(c.Error().Error(), "disk full") {
		t.Fatalf("error %v does not carry the app's message", c.Error())
	}
}

func TestClosedConnectionReleasesEveryWaiter(t *testing.T) {
	// The app reads a request and closes without answering it.
	s := serve(t, func(req *types.Request) *types.Response { return nil })
	c := start(t, NewClient(s.addr, true))
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			_, err := c.Query(context.Background(), &types.RequestQuery{Path: "/state"})
			errs <- err
		}()
	}
	for i := 0; i < 3; i++ {
		select {
		case err := <-errs:
			if err == nil {
				t.Fatal("a call returned no error after the app went away")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a waiting call was never released")
		}
	}
	waitStopped(t, c)
}

func TestUnsolicitedResponseStopsTheClient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "abci.sock")
	listener, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	go func() {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = types.WriteMessage(types.ToResponseFlush(), conn) // nothing was asked
		time.Sleep(5 * time.Second)
	}()
	c := start(t, NewClient("unix://"+path, true))
	waitStopped(t, c)
	if c.Error() == nil {
		t.Fatal("an answer to no request was accepted")
	}
}

func TestMustConnectFailsWhenNobodyListens(t *testing.T) {
	c := NewClient("unix://"+filepath.Join(t.TempDir(), "absent.sock"), true)
	c.SetLogger(log.TestingLogger())
	if err := c.Start(); err == nil {
		t.Fatal("started without an app")
	}
}

func TestClientWaitsForTheAppToListen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "late.sock")
	c := NewClient("unix://"+path, false)
	c.SetLogger(log.TestingLogger())
	started := make(chan error, 1)
	go func() { started <- c.Start() }()
	time.Sleep(3 * dialRetry)
	listener, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	go func() {
		conn, err := listener.Accept()
		if err == nil {
			(&server{}).answer(conn, echoApp)
		}
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Stop() }()
	if res, err := c.Echo(context.Background(), "hello"); err != nil || res.Message != "hello" {
		t.Fatalf("echo %v %v", res, err)
	}
}

func TestAnswersMatchesKinds(t *testing.T) {
	cases := []struct {
		req  *types.Request
		res  *types.Response
		want bool
	}{
		{types.ToRequestCheckTx(&types.RequestCheckTx{}), types.ToResponseCheckTx(&types.ResponseCheckTx{}), true},
		{types.ToRequestFlush(), types.ToResponseFlush(), true},
		{types.ToRequestCommit(), types.ToResponseCheckTx(&types.ResponseCheckTx{}), false},
		{types.ToRequestInfo(&types.RequestInfo{}), types.ToResponseException("x"), false},
		{types.ToRequestFinalizeBlock(&types.RequestFinalizeBlock{}), &types.Response{}, false},
	}
	for _, tc := range cases {
		if got := answers(tc.req, tc.res); got != tc.want {
			t.Errorf("answers(%T, %T) = %v", tc.req.Value, tc.res.Value, got)
		}
	}
}
