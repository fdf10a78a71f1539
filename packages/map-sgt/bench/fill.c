/* C anchor of the phys_vec -> SGT BUS_ADDR fill (map-sgt bench): the loop of
 * dma_buf_phys_vec_to_sgt() for ranges that fit one entry, over the same
 * 1,000,000 single-page ranges. Prints ranges per second (median of runs). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct phys_vec { uint64_t paddr; uint64_t len; };

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	struct phys_vec *vec = malloc(n * sizeof(*vec));
	uint64_t *addr = malloc(n * sizeof(*addr));
	uint32_t *dlen = malloc(n * sizeof(*dlen));
	volatile uint64_t off = 0x1000;
	double rates[64];
	uint64_t sum = 0;
	if (!vec || !addr || !dlen || runs < 1 || runs > 64) return 1;
	for (size_t i = 0; i < n; i++) {
		vec[i].paddr = 0x4000000000ull + i * 8192;
		vec[i].len = 4096;
	}
	for (int r = 0; r < runs; r++) {
		double t0 = now();
		size_t idx = 0;
		uint64_t o = off;
		for (size_t i = 0; i < n; i++) {
			uint64_t len = vec[i].len;
			if (len && len <= UINT32_MAX) {
				addr[idx] = vec[i].paddr + o;
				dlen[idx++] = (uint32_t)len;
			}
		}
		rates[r] = n / (now() - t0);
		sum += addr[idx - 1] + dlen[idx / 2];
	}
	qsort(rates, runs, sizeof(rates[0]), cmp);
	printf("%.0f %llu\n", rates[runs / 2], (unsigned long long)sum);
	return 0;
}
