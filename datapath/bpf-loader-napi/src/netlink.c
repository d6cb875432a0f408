/* netlink.c: the calling thread's network namespace as rtnetlink reports it, without spawning
 * iproute2: dumps of its links and addresses, deleting a link by name, and a watcher thread that tells JS when links,
 * addresses, routes or neighbours change.
 *
 * Dumps run synchronously on the calling thread: a dump of a node's few dozen devices is a few
 * syscalls. A dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is retried.
 *
 * The watcher owns a NETLINK_ROUTE socket bound to the multicast groups asked for and a thread
 * that reads it. Events are coalesced into a bit set: the thread queues one JS call when the set
 * goes from empty to non-empty, and that call takes (and clears) every bit that arrived since, so a
 * burst of kernel messages costs one JS call and the queue never grows. The thread-safe function
 * is unref'd: a watcher alone never keeps Node's event loop alive. It stops on close(), on garbage
 * collection of its handle, and when the environment is torn down (the thread-safe function's
 * finalizer joins the thread). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "kpb.h"

#define NL_BUF (64u << 10)

/* linux/if.h has it, but clashes with net/if.h. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP (1u << 16)
#endif

/* Event bits handed to JS. */
enum {
	EV_LINK = 1u << 0,
	EV_ADDR = 1u << 1,
	EV_ROUTE = 1u << 2,
	EV_NEIGH = 1u << 3,
	EV_LOST = 1u << 4, /* the socket overran (ENOBUFS): anything may have changed */
};

static int nl_socket(uint32_t groups, int *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = groups };
	int one = 1;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	/* Without strict checking old kernels ignore the dump filter; harmless if unsupported. */
	setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		*err = errno;
		close(fd);
		return -1;
	}
	return fd;
}

static struct rtattr *rta_find(struct rtattr *rta, int len, unsigned short type)
{
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if ((rta->rta_type & NLA_TYPE_MASK) == type)
			return rta;
	return NULL;
}

/* One row of a dump, converted to JS by the caller's callback. */
typedef bool (*dump_cb)(napi_env env, struct nlmsghdr *nh, napi_value arr, uint32_t *n);

/* Sends a dump request of `type` and calls `cb` for each reply. Returns 0 or a positive errno;
 * EINTR means the dump was inconsistent and should be retried. `*failed_js` tells a JS failure
 * (exception pending) apart from a kernel one. */
static int nl_dump_once(napi_env env, int type, dump_cb cb, napi_value arr, uint32_t *n, bool *failed_js)
{
	struct {
		struct nlmsghdr nh;
		union {
			struct ifinfomsg ifi;
			struct ifaddrmsg ifa;
		};
		char attrs[16];
	} req;
	int err = 0, fd = nl_socket(0, &err);
	static _Atomic uint32_t seq_counter = 1;
	uint32_t seq = atomic_fetch_add(&seq_counter, 1);
	bool done = false, intr = false;
	char *buf;
	if (fd < 0)
		return err;
	buf = malloc(NL_BUF);
	if (!buf) {
		close(fd);
		return ENOMEM;
	}
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = (unsigned short)type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = seq;
	if (type == RTM_GETLINK) {
		struct rtattr *rta;
		req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
		req.ifi.ifi_family = AF_UNSPEC;
		/* Counters are the bulk of a link message and of no use here. */
		rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
		rta->rta_type = IFLA_EXT_MASK;
		rta->rta_len = RTA_LENGTH(sizeof(uint32_t));
		*(uint32_t *)RTA_DATA(rta) = RTEXT_FILTER_SKIP_STATS;
		req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	} else {
		req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
		req.ifa.ifa_family = AF_UNSPEC;
	}
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		err = errno;
		goto out;
	}
	while (!done) {
		ssize_t len = recv(fd, buf, NL_BUF, 0);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			goto out;
		}
		if (len == 0) {
			err = EPIPE;
			goto out;
		}
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (uint32_t)len);
		     nh = NLMSG_NEXT(nh, len)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);
				err = e->error < 0 ? -e->error : EPROTO;
				goto out;
			}
			if (!cb(env, nh, arr, n)) {
				*failed_js = true;
				err = EINVAL;
				goto out;
			}
		}
	}
	if (intr)
		err = EINTR;
out:
	free(buf);
	close(fd);
	return err;
}

static napi_value nl_dump(napi_env env, int type, dump_cb cb, const char *op, const char *what)
{
	napi_value arr = NULL;
	int err = EINTR;
	for (int attempt = 0; attempt < 5 && err == EINTR; attempt++) {
		uint32_t n = 0;
		bool failed_js = false;
		if (napi_create_array(env, &arr) != napi_ok)
			return NULL;
		err = nl_dump_once(env, type, cb, arr, &n, &failed_js);
		if (failed_js)
			return NULL;
	}
	if (err) {
		kpb_throw(env, err, op, "", "Dump %s of this network namespace over rtnetlink failed%s", what,
			  err == EINTR ? " (it kept changing during 5 attempts)" : "");
		return NULL;
	}
	return arr;
}

static bool push(napi_env env, napi_value arr, uint32_t *n, napi_value row)
{
	return napi_set_element(env, arr, (*n)++, row) == napi_ok;
}

static bool link_row(napi_env env, struct nlmsghdr *nh, napi_value arr, uint32_t *n)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
	struct rtattr *attrs = IFLA_RTA(ifi), *a;
	char name[IF_NAMESIZE + 1] = "", kind[32] = "", mac[3 * 32] = "";
	uint32_t mtu = 0, master = 0;
	napi_value row;
	if (nh->nlmsg_type != RTM_NEWLINK || len < 0)
		return true;
	if ((a = rta_find(attrs, len, IFLA_IFNAME)))
		snprintf(name, sizeof(name), "%.*s", (int)RTA_PAYLOAD(a), (char *)RTA_DATA(a));
	if ((a = rta_find(attrs, len, IFLA_MTU)) && RTA_PAYLOAD(a) >= 4)
		mtu = *(uint32_t *)RTA_DATA(a);
	if ((a = rta_find(attrs, len, IFLA_MASTER)) && RTA_PAYLOAD(a) >= 4)
		master = *(uint32_t *)RTA_DATA(a);
	if ((a = rta_find(attrs, len, IFLA_ADDRESS))) {
		const unsigned char *b = RTA_DATA(a);
		size_t l = RTA_PAYLOAD(a) < 32 ? RTA_PAYLOAD(a) : 32;
		for (size_t i = 0, at = 0; i < l; i++, at = 3 * i - 1)
			snprintf(mac + at, sizeof(mac) - at, "%s%02x", i ? ":" : "", b[i]);
	}
	if ((a = rta_find(attrs, len, IFLA_LINKINFO))) {
		struct rtattr *k = rta_find(RTA_DATA(a), (int)RTA_PAYLOAD(a), IFLA_INFO_KIND);
		if (k)
			snprintf(kind, sizeof(kind), "%.*s", (int)RTA_PAYLOAD(k), (char *)RTA_DATA(k));
	}
	if (napi_create_object(env, &row) != napi_ok)
		return false;
	kpb_set_u32(env, row, "ifindex", (uint32_t)ifi->ifi_index);
	kpb_set_str(env, row, "name", name);
	kpb_set_u32(env, row, "flags", ifi->ifi_flags);
	kpb_set_bool(env, row, "up", ifi->ifi_flags & IFF_UP);
	kpb_set_bool(env, row, "lowerUp", ifi->ifi_flags & IFF_LOWER_UP);
	kpb_set_str(env, row, "kind", kind);
	kpb_set_u32(env, row, "mtu", mtu);
	kpb_set_u32(env, row, "master", master);
	kpb_set_str(env, row, "mac", mac);
	kpb_set_u32(env, row, "type", ifi->ifi_type);
	return push(env, arr, n, row);
}

static bool addr_row(napi_env env, struct nlmsghdr *nh, napi_value arr, uint32_t *n)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	int len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifa)));
	struct rtattr *attrs = IFA_RTA(ifa), *a;
	char text[INET6_ADDRSTRLEN] = "";
	uint32_t flags = ifa->ifa_flags;
	napi_value row;
	if (nh->nlmsg_type != RTM_NEWADDR || len < 0 || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return true;
	/* IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on point-to-point links);
	 * IPv6 only sends IFA_ADDRESS. */
	a = rta_find(attrs, len, IFA_LOCAL);
	if (!a)
		a = rta_find(attrs, len, IFA_ADDRESS);
	if (!a || RTA_PAYLOAD(a) < (ifa->ifa_family == AF_INET ? 4u : 16u))
		return true;
	inet_ntop(ifa->ifa_family, RTA_DATA(a), text, sizeof(text));
	if ((a = rta_find(attrs, len, IFA_FLAGS)) && RTA_PAYLOAD(a) >= 4)
		flags = *(uint32_t *)RTA_DATA(a);
	if (napi_create_object(env, &row) != napi_ok)
		return false;
	kpb_set_u32(env, row, "ifindex", ifa->ifa_index);
	kpb_set_str(env, row, "family", ifa->ifa_family == AF_INET ? "IPv4" : "IPv6");
	kpb_set_str(env, row, "address", text);
	kpb_set_u32(env, row, "prefixLen", ifa->ifa_prefixlen);
	kpb_set_u32(env, row, "scope", ifa->ifa_scope);
	kpb_set_u32(env, row, "flags", flags);
	return push(env, arr, n, row);
}

/* netLinkDelete(name) -> whether a link of that name existed and was deleted (RTM_DELLINK). */
static napi_value js_net_link_delete(napi_env env, napi_callback_info info)
{
	KPB_ARGS(1);
	char name[IF_NAMESIZE];
	napi_value out;
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	char buf[4096];
	int err = 0, fd;
	if (!kpb_get_string(env, argv[0], "name", name, sizeof(name)))
		return NULL;
	unsigned int ifindex = if_nametoindex(name);
	if (!ifindex) {
		if (errno != ENODEV && errno != ENXIO) {
			kpb_throw(env, errno, "net_link_delete", name, "Find link \"%s\" failed", name);
			return NULL;
		}
		KPB_TRY(napi_get_boolean(env, false, &out));
		return out;
	}
	fd = nl_socket(0, &err);
	if (fd < 0) {
		kpb_throw(env, err, "net_link_delete", name, "Open a rtnetlink socket to delete link \"%s\" failed", name);
		return NULL;
	}
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	req.nh.nlmsg_type = RTM_DELLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)ifindex;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		err = errno;
	} else {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;
		if (len < 0)
			err = errno;
		else if (!NLMSG_OK(nh, (uint32_t)len) || nh->nlmsg_type != NLMSG_ERROR)
			err = EPROTO;
		else
			err = -((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	}
	close(fd);
	if (err == ENODEV) {
		KPB_TRY(napi_get_boolean(env, false, &out));
		return out;
	}
	if (err) {
		kpb_throw(env, err, "net_link_delete", name, "Delete link \"%s\" (ifindex %u) failed", name, ifindex);
		return NULL;
	}
	KPB_TRY(napi_get_boolean(env, true, &out));
	return out;
}

/* netLinks() -> [{ ifindex, name, flags, up, lowerUp, kind, mtu, master, mac, type }]. */
static napi_value js_net_links(napi_env env, napi_callback_info info)
{
	(void)info;
	return nl_dump(env, RTM_GETLINK, link_row, "net_links", "links");
}

/* netAddresses() -> [{ ifindex, family, address, prefixLen, scope, flags }]. */
static napi_value js_net_addresses(napi_env env, napi_callback_info info)
{
	(void)info;
	return nl_dump(env, RTM_GETADDR, addr_row, "net_addresses", "addresses");
}

/* ---- watcher ---- */

#define NEIGH_SLOTS 1024

struct kpb_watch {
	int refs; /* the JS handle and the thread-safe function; touched on the JS thread only */
	napi_threadsafe_function tsfn;
	bool tsfn_released, tsfn_finalized;
	pthread_t thread;
	bool started, joined;
	int nl_fd, stop_fd;
	_Atomic uint32_t pending;
	/* Last link-layer address per neighbour (hash slot): the thread reports a neighbour only when
	 * that changes or the entry goes, not on every reachability refresh. Thread-only. */
	uint64_t neigh_key[NEIGH_SLOTS];
	uint64_t neigh_mac[NEIGH_SLOTS];
};

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* Whether a neighbour message changes what a next hop resolves to. */
static bool neigh_changed(struct kpb_watch *w, struct nlmsghdr *nh)
{
	struct ndmsg *nd = NLMSG_DATA(nh);
	int len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));
	struct rtattr *attrs = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd))), *dst, *ll;
	uint64_t key, mac;
	uint32_t slot;
	/* Bridge FDB entries arrive as neighbours too (family AF_BRIDGE); they are not next hops. */
	if (len < 0 || (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6))
		return false;
	dst = rta_find(attrs, len, NDA_DST);
	if (!dst)
		return true;
	key = fnv1a(RTA_DATA(dst), RTA_PAYLOAD(dst), fnv1a(&nd->ndm_ifindex, sizeof(nd->ndm_ifindex), 0xcbf29ce484222325ULL));
	key |= 1; /* 0 marks an empty slot */
	slot = (uint32_t)(key % NEIGH_SLOTS);
	if (nh->nlmsg_type == RTM_DELNEIGH || (nd->ndm_state & (NUD_FAILED | NUD_INCOMPLETE))) {
		bool known = w->neigh_key[slot] == key;
		w->neigh_key[slot] = 0;
		return known || nh->nlmsg_type == RTM_DELNEIGH;
	}
	ll = rta_find(attrs, len, NDA_LLADDR);
	if (!ll)
		return false; /* no link-layer address yet: nothing a next hop could use */
	mac = fnv1a(RTA_DATA(ll), RTA_PAYLOAD(ll), 0xcbf29ce484222325ULL);
	if (w->neigh_key[slot] == key && w->neigh_mac[slot] == mac)
		return false;
	w->neigh_key[slot] = key;
	w->neigh_mac[slot] = mac;
	return true;
}

static uint32_t classify(struct kpb_watch *w, struct nlmsghdr *nh)
{
	switch (nh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return EV_LINK;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return EV_ADDR;
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		struct rtmsg *rt = NLMSG_DATA(nh);
		/* Cloned entries are the route cache (PMTU exceptions), not routing decisions. */
		return (rt->rtm_flags & RTM_F_CLONED) ? 0 : EV_ROUTE;
	}
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		return neigh_changed(w, nh) ? EV_NEIGH : 0;
	}
	return 0;
}

static void *watch_main(void *arg)
{
	struct kpb_watch *w = arg;
	struct pollfd p[2] = { { .fd = w->nl_fd, .events = POLLIN }, { .fd = w->stop_fd, .events = POLLIN } };
	char *buf = malloc(NL_BUF);
	if (!buf)
		return NULL;
	for (;;) {
		uint32_t bits = 0;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & (POLLIN | POLLERR)))
			continue;
		ssize_t len = recv(w->nl_fd, buf, NL_BUF, MSG_DONTWAIT);
		if (len < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (errno != ENOBUFS)
				break;
			bits = EV_LINK | EV_ADDR | EV_ROUTE | EV_NEIGH | EV_LOST;
		}
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; len > 0 && NLMSG_OK(nh, (uint32_t)len);
		     nh = NLMSG_NEXT(nh, len))
			bits |= classify(w, nh);
		if (bits && atomic_fetch_or(&w->pending, bits) == 0 &&
		    napi_call_threadsafe_function(w->tsfn, NULL, napi_tsfn_nonblocking) == napi_closing)
			break;
	}
	free(buf);
	return NULL;
}

/* On the JS thread: hands the accumulated bits to the callback. */
static void watch_call_js(napi_env env, napi_value cb, void *context, void *data)
{
	struct kpb_watch *w = context;
	napi_value ev, undef;
	uint32_t bits;
	(void)data;
	if (!env || !cb)
		return;
	bits = atomic_exchange(&w->pending, 0);
	if (!bits)
		return;
	if (napi_create_object(env, &ev) != napi_ok || napi_get_undefined(env, &undef) != napi_ok)
		return;
	kpb_set_bool(env, ev, "links", bits & EV_LINK);
	kpb_set_bool(env, ev, "addresses", bits & EV_ADDR);
	kpb_set_bool(env, ev, "routes", bits & EV_ROUTE);
	kpb_set_bool(env, ev, "neighbours", bits & EV_NEIGH);
	kpb_set_bool(env, ev, "lost", bits & EV_LOST);
	/* An exception from the callback surfaces as an uncaught exception (the facade catches its own). */
	napi_call_function(env, undef, cb, 1, &ev, NULL);
}

static void watch_unref(struct kpb_watch *w)
{
	if (--w->refs > 0)
		return;
	free(w);
}

/* Stops and joins the thread and closes the sockets; idempotent; JS thread only. */
static void watch_stop(struct kpb_watch *w)
{
	if (w->started && !w->joined) {
		uint64_t one = 1;
		while (write(w->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
		pthread_join(w->thread, NULL);
		w->joined = true;
	}
	if (w->nl_fd >= 0)
		close(w->nl_fd);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	w->nl_fd = w->stop_fd = -1;
}

static void watch_finalize(napi_env env, void *data, void *hint)
{
	struct kpb_watch *w = data;
	(void)env;
	(void)hint;
	watch_stop(w);
	w->tsfn_finalized = true;
	watch_unref(w);
}

/* Called by kpb_handle_release for a watcher handle. */
void kpb_watch_release(struct kpb_handle *h)
{
	struct kpb_watch *w = h->watch;
	if (!w)
		return;
	h->watch = NULL;
	h->fd = -1;
	watch_stop(w);
	if (!w->tsfn_finalized && !w->tsfn_released) {
		w->tsfn_released = true;
		napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
	}
	watch_unref(w);
}

static const struct {
	const char *name;
	uint32_t groups;
} group_names[] = {
	{ "links", RTMGRP_LINK },
	{ "addresses", RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR },
	{ "routes", RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE },
	{ "neighbours", RTMGRP_NEIGH },
};

/* netWatch(callback, groups: string[]) -> watcher handle. */
static napi_value js_net_watch(napi_env env, napi_callback_info info)
{
	KPB_ARGS(2);
	napi_valuetype t;
	bool is_array = false;
	uint32_t count = 0, groups = 0;
	napi_value out, name;
	int err = 0, size = 1 << 20;
	KPB_TRY(napi_typeof(env, argv[0], &t));
	if (t != napi_function) {
		kpb_throw_type(env, "Expected function for \"callback\"");
		return NULL;
	}
	KPB_TRY(napi_is_array(env, argv[1], &is_array));
	if (!is_array) {
		kpb_throw_type(env, "Expected array of 'links', 'addresses', 'routes', 'neighbours' for \"groups\"");
		return NULL;
	}
	KPB_TRY(napi_get_array_length(env, argv[1], &count));
	for (uint32_t i = 0; i < count; i++) {
		napi_value v;
		char g[16];
		size_t k;
		KPB_TRY(napi_get_element(env, argv[1], i, &v));
		if (!kpb_get_string(env, v, "groups", g, sizeof(g)))
			return NULL;
		for (k = 0; k < sizeof(group_names) / sizeof(group_names[0]); k++)
			if (!strcmp(g, group_names[k].name))
				break;
		if (k == sizeof(group_names) / sizeof(group_names[0])) {
			kpb_throw_type(env, "Expected 'links', 'addresses', 'routes' or 'neighbours' in \"groups\", got \"%s\"", g);
			return NULL;
		}
		groups |= group_names[k].groups;
	}
	if (!groups) {
		kpb_throw_type(env, "Expected at least one group in \"groups\"");
		return NULL;
	}

	struct kpb_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		kpb_throw(env, ENOMEM, "net_watch", "", "Start a netlink watcher failed");
		return NULL;
	}
	w->nl_fd = w->stop_fd = -1;
	w->refs = 1; /* the handle's, taken below; the thread-safe function's is added once it exists */
	w->nl_fd = nl_socket(groups, &err);
	if (w->nl_fd < 0) {
		free(w);
		kpb_throw(env, err, "net_watch", "", "Open a rtnetlink socket for the watcher failed");
		return NULL;
	}
	/* Room for bursts (a device going away takes its addresses, routes and neighbours with it);
	 * an overrun is still reported, as "lost". */
	if (setsockopt(w->nl_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(w->nl_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->stop_fd < 0) {
		err = errno;
		watch_stop(w);
		free(w);
		kpb_throw(env, err, "net_watch", "", "Create the watcher's stop event failed");
		return NULL;
	}
	KPB_TRY(napi_create_string_utf8(env, "kpb netlink watcher", NAPI_AUTO_LENGTH, &name));
	if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, w, watch_finalize, w, watch_call_js,
					    &w->tsfn) != napi_ok) {
		watch_stop(w);
		free(w);
		return NULL;
	}
	w->refs++;
	napi_unref_threadsafe_function(env, w->tsfn);
	struct kpb_handle *h = kpb_handle_new(env, KPB_WATCH, &out);
	if (!h) {
		/* The thread never started: releasing the function finalizes w. */
		w->tsfn_released = true;
		napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
		watch_unref(w);
		return NULL;
	}
	h->watch = w;
	h->fd = w->nl_fd;
	snprintf(h->name, sizeof(h->name), "netlink watcher");
	err = pthread_create(&w->thread, NULL, watch_main, w);
	if (err) {
		kpb_watch_release(h);
		kpb_throw(env, err, "net_watch", "", "Start the netlink watcher thread failed");
		return NULL;
	}
	w->started = true;
	return out;
}

void kpb_netlink_init(napi_env env, napi_value exports)
{
	kpb_export(env, exports, "netLinks", js_net_links);
	kpb_export(env, exports, "netAddresses", js_net_addresses);
	kpb_export(env, exports, "netWatch", js_net_watch);
	kpb_export(env, exports, "netLinkDelete", js_net_link_delete);
}
