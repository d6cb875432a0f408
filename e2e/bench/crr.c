// TCP_CRR-style load for the ClusterIP part: `crr server PORT` answers each connection with one
// byte and closes it; `crr client IP PORT SECONDS` opens a new connection per request (connect,
// send 1 byte, read the answer and EOF, close) for SECONDS and prints one JSON line: connections,
// elapsed seconds, errors, and up to 20000 sampled per-connection latencies in ns.
// Built by the bench with the system compiler into its run folder; not part of the product.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 20000

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int server(int port)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1024)) {
		perror("bind/listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		char b;
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		if (read(c, &b, 1) == 1)
			(void)!write(c, &b, 1);
		close(c); /* the server closes first: TIME_WAIT stays here, not on the client's ports */
	}
}

static int client(const char *ip, int port, double seconds)
{
	static double lat[MAX_SAMPLES];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	long n = 0, errors = 0, kept = 0;
	double start = now_ns(), end = start + seconds * 1e9, t;
	unsigned long long rnd = 88172645463325252ULL;

	inet_pton(AF_INET, ip, &a.sin_addr);
	while ((t = now_ns()) < end) {
		char b = 'x';
		int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) || write(s, &b, 1) != 1 || read(s, &b, 1) != 1) {
			errors++;
			close(s);
			if (errors > 1000 && errors > n)
				break;
			continue;
		}
		while (read(s, &b, 1) > 0)
			; /* wait for the server's close */
		close(s);
		double d = now_ns() - t;
		/* reservoir sample of the latencies */
		if (kept < MAX_SAMPLES) {
			lat[kept++] = d;
		} else {
			rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17;
			unsigned long long j = rnd % (unsigned long long)(n + 1);
			if (j < MAX_SAMPLES)
				lat[j] = d;
		}
		n++;
	}
	printf("{\"connections\":%ld,\"elapsedS\":%.6f,\"errors\":%ld,\"lastErrno\":%d,\"latNs\":[", n, (now_ns() - start) / 1e9, errors, errno);
	for (long i = 0; i < kept; i++)
		printf("%s%.0f", i ? "," : "", lat[i]);
	printf("]}\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), atof(argv[4]));
	fprintf(stderr, "usage: crr server PORT | crr client IP PORT SECONDS\n");
	return 2;
}
