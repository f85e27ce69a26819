package apiserver

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/logetl/logetl/apiserver/auth"
	"github.com/logetl/logetl/apiserver/forms"
	"github.com/logetl/logetl/apiserver/store"
	"github.com/logetl/logetl/internal/activitylog"
)

// pageSize is the old service's PAGE_SIZE.
const pageSize = 10

// postJSON is a post as the API shows it.
type postJSON struct {
	ID        uint64 `json:"id"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	Views     uint64 `json:"views"`
	User      uint64 `json:"user"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func toPostJSON(p store.Post) postJSON {
	return postJSON{
		ID: p.ID, Title: p.Title, Body: p.Body, Views: p.Views, User: p.UserID,
		CreatedAt: p.CreatedAt.UTC().Format(timeFormat), UpdatedAt: p.UpdatedAt.UTC().Format(timeFormat),
	}
}

// pageJSON is DRF's PageNumberPagination body.
type pageJSON struct {
	Count    int64      `json:"count"`
	Next     *string    `json:"next"`
	Previous *string    `json:"previous"`
	Results  []postJSON `json:"results"`
}

// listPosts: GET /blog/?user={id}&page={n}, newest first, 10 a page.
func (s *Server) listPosts(c *gin.Context) {
	q := c.Request.URL.Query()
	var user *uint64
	if raw := q.Get("user"); raw != "" {
		id, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			s.fail(c, forms.Errors{"user": {"Enter a whole number."}}, "list posts")
			return
		}
		user = &id
	}
	page := 1
	last := false
	switch raw := q.Get("page"); raw {
	case "":
	case "last":
		last = true
	default:
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			detail(c, http.StatusNotFound, "Invalid page.")
			return
		}
		page = n
	}
	ctx := c.Request.Context()
	count, err := s.store.CountPosts(ctx, user)
	if err != nil {
		s.fail(c, err, "list posts")
		return
	}
	pages := pageCount(count)
	if last {
		page = pages
	}
	if page > pages { // DRF allows an empty first page only
		detail(c, http.StatusNotFound, "Invalid page.")
		return
	}
	posts, err := s.store.ListPosts(ctx, user, pageSize, (page-1)*pageSize)
	if err != nil {
		s.fail(c, err, "list posts")
		return
	}
	out := pageJSON{Count: count, Results: make([]postJSON, len(posts))}
	for i, p := range posts {
		out.Results[i] = toPostJSON(p)
	}
	if page < pages {
		out.Next = pageURL(c, page+1)
	}
	if page > 1 {
		out.Previous = pageURL(c, page-1)
	}
	c.JSON(http.StatusOK, out)
}

func pageCount(count int64) int {
	if count == 0 {
		return 1
	}
	return int((count + pageSize - 1) / pageSize)
}

// pageURL is the absolute URL of another page of this request, as DRF builds it: the same query
// with page replaced, and page dropped for the first page.
func pageURL(c *gin.Context, page int) *string {
	q := c.Request.URL.Query()
	if page == 1 {
		q.Del("page")
	} else {
		q.Set("page", strconv.Itoa(page))
	}
	scheme := "http"
	// X-Forwarded-Proto counts only when a trusted proxy forwarded the request (then gin's
	// client IP differs from the peer's).
	if c.Request.TLS != nil || (c.ClientIP() != c.RemoteIP() && c.GetHeader("X-Forwarded-Proto") == "https") {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: c.Request.Host, Path: c.Request.URL.Path, RawQuery: q.Encode()}
	s := u.String()
	return &s
}

// createPost: POST /blog/create/.
func (s *Server) createPost(c *gin.Context) {
	user, ok := s.authenticate(c)
	if !ok {
		return
	}
	body, err := s.jsonBody(c)
	if err != nil {
		s.fail(c, err, "create post")
		return
	}
	in, err := forms.DecodePost(body, false)
	if err != nil {
		s.fail(c, err, "create post")
		return
	}
	rec := s.record(c, activitylog.ActionPostCreate, http.StatusCreated, &user, "content create success")
	p, err := s.store.CreatePost(c.Request.Context(), user, *in.Title, *in.Body, rec)
	if err != nil {
		s.fail(c, err, "create post")
		return
	}
	c.JSON(http.StatusCreated, toPostJSON(p))
}

// viewPost: GET /blog/{id}/ counts a view; reads are public, so the viewer is recorded only
// when the request carries a valid access token.
func (s *Server) viewPost(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var viewer *uint64
	if tok, present := bearer(c); present {
		if claims, err := s.tokens.Parse(tok, auth.Access); err == nil {
			viewer = &claims.UserID
		}
	}
	rec := s.record(c, activitylog.ActionPostView, http.StatusOK, viewer, "content view success")
	p, err := s.store.ViewPost(c.Request.Context(), id, rec)
	if err != nil {
		s.fail(c, err, "view post")
		return
	}
	c.JSON(http.StatusOK, toPostJSON(p))
}

// updatePost: PUT (title and body) or PATCH (either) /blog/{id}/, by the owner only.
func (s *Server) updatePost(c *gin.Context) {
	user, id, ok := s.authenticateWithID(c)
	if !ok {
		return
	}
	body, err := s.jsonBody(c)
	var in forms.PostInput
	if err == nil {
		in, err = forms.DecodePost(body, c.Request.Method == http.MethodPatch)
	}
	if err != nil {
		// DRF finds the object and checks permission before it parses the body: 404 and 403 win
		// over 400, 413 and 415.
		if _, serr := s.store.PostOwnedBy(c.Request.Context(), id, user); serr != nil {
			err = serr
		}
		s.fail(c, err, "update post")
		return
	}
	rec := s.record(c, activitylog.ActionPostUpdate, http.StatusOK, &user, "content update success")
	p, err := s.store.UpdatePost(c.Request.Context(), id, user, in.Title, in.Body, rec)
	if err != nil {
		s.fail(c, err, "update post")
		return
	}
	c.JSON(http.StatusOK, toPostJSON(p))
}

// deletePost: DELETE /blog/{id}/, by the owner only.
func (s *Server) deletePost(c *gin.Context) {
	user, id, ok := s.authenticateWithID(c)
	if !ok {
		return
	}
	rec := s.record(c, activitylog.ActionPostDelete, http.StatusNoContent, &user, "content delete success")
	if err := s.store.DeletePost(c.Request.Context(), id, user, rec); err != nil {
		s.fail(c, err, "delete post")
		return
	}
	c.Status(http.StatusNoContent)
}

// postStats: GET /blog/statistic/, post counts by author gender.
func (s *Server) postStats(c *gin.Context) {
	male, female, err := s.store.PostGenderStats(c.Request.Context())
	if err != nil {
		s.fail(c, err, "post stats")
		return
	}
	c.JSON(http.StatusOK, gin.H{"Male": male, "Female": female})
}
