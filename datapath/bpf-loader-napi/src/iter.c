/* iter.c: BPF iterators (BPF_TRACE_ITER programs such as iter/tcp and iter/udp).
 *
 * attachIter makes the iterator's bpf_link; iterRead creates an iterator instance from it, reads
 * it to the end (which is what runs the program over every object) and returns what the program
 * wrote with bpf_seq_write. Socket iterators walk the sockets of the network namespace the
 * instance was created in (the creating thread's), so iterRead can create it inside another
 * namespace: a short-lived thread enters it with setns() and creates the instance there; the
 * thread then ends, so no thread of the process is left in that namespace, and the instance fd is
 * read here like any other. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "kpb.h"

/* attachIter(program): a bpf_link of an iterator program (no parameters). */
static napi_value js_attach_iter(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	struct kpb_handle *p = kpb_handle_arg(env, argv[0], KPB_PROG, "program");
	if (!p)
		return NULL;
	int fd = bpf_link_create(p->fd, 0, BPF_TRACE_ITER, NULL);
	if (fd < 0) {
		kpb_throw(env, errno, "attach_iter", p->name, "Attach iterator program \"%s\" failed", p->name);
		return NULL;
	}
	napi_value out;
	struct kpb_handle *h = kpb_handle_new(env, KPB_LINK, &out);
	if (!h) {
		close(fd);
		return NULL;
	}
	h->fd = fd;
	h->link_kind = KPB_LINK_FD;
	snprintf(h->name, sizeof(h->name), "%s", p->name);
	return out;
}

struct iter_create {
	int link_fd, netns_fd;
	int fd, err;
	const char *step;
};

static void *iter_create_in_netns(void *arg)
{
	struct iter_create *c = arg;
	if (setns(c->netns_fd, CLONE_NEWNET) < 0) {
		c->err = errno;
		c->step = "enter the network namespace";
		return NULL;
	}
	c->fd = bpf_iter_create(c->link_fd);
	if (c->fd < 0) {
		c->err = errno;
		c->step = "create the iterator";
	}
	return NULL;
}

/* iterRead(link, netnsFd): -1 for the caller's own namespace. Returns a Buffer. */
static napi_value js_iter_read(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	struct kpb_handle *l = kpb_handle_arg(env, argv[0], KPB_LINK, "link");
	int32_t netns_fd;
	if (!l || !kpb_get_i32(env, argv[1], "netnsFd", &netns_fd))
		return NULL;
	struct iter_create c = { .link_fd = l->fd, .netns_fd = netns_fd, .fd = -1, .step = "create the iterator" };
	if (netns_fd < 0) {
		c.fd = bpf_iter_create(l->fd);
		if (c.fd < 0)
			c.err = errno;
	} else {
		pthread_t t;
		int e = pthread_create(&t, NULL, iter_create_in_netns, &c);
		if (e) {
			c.err = e;
			c.step = "start a thread for the network namespace";
		} else {
			pthread_join(t, NULL);
		}
	}
	if (c.fd < 0) {
		kpb_throw(env, c.err ? c.err : EINVAL, "iter_read", l->name, "Run iterator \"%s\" failed: cannot %s", l->name,
			  c.step);
		return NULL;
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			close(c.fd);
			kpb_throw(env, ENOMEM, "iter_read", l->name, "Run iterator \"%s\" failed: no memory for its output", l->name);
			return NULL;
		}
		if (cap - len < 4096) {
			char *more = realloc(buf, cap * 2);
			if (!more) {
				free(buf);
				buf = NULL;
				continue;
			}
			buf = more;
			cap *= 2;
		}
		ssize_t n = read(c.fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(c.fd);
			kpb_throw(env, e, "iter_read", l->name, "Read iterator \"%s\" failed after %zu bytes", l->name, len);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(c.fd);
	napi_value out;
	void *data;
	napi_status st = napi_create_buffer_copy(env, len, buf, &data, &out);
	free(buf);
	if (st != napi_ok)
		return NULL;
	return out;
}

void kpb_iter_init(napi_env env, napi_value exports)
{
	kpb_export(env, exports, "attachIter", js_attach_iter);
	kpb_export(env, exports, "iterRead", js_iter_read);
}
