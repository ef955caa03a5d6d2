/* Test plugins for chronus's LADSPA host, built by the tests with the system cc.
 *
 * "crash": a mono pass-through that dereferences NULL in run() once it has run
 *          `blocks` blocks (its control port; 0 crashes in the first block).
 * "crash_later": the same, its port up to 4000 blocks (default 1000, 2.7 s at 128 frames
 *          and 48 kHz): validation, which renders about 100 blocks, passes it, and it
 *          crashes on stage.
 * "drift": a mono pass-through plus a counter shared by every instance in the process,
 *          so that two fresh instances fed the same input differ (not deterministic).
 */
#include <stdlib.h>
#include <ladspa.h>

enum { IN, OUT, BLOCKS, PORTS };

typedef struct {
    LADSPA_Data *port[PORTS];
    unsigned long runs;
} Plugin;

static unsigned long shared_counter;

static LADSPA_Handle instantiate(const LADSPA_Descriptor *d, unsigned long rate) {
    (void)d; (void)rate;
    return calloc(1, sizeof(Plugin));
}

static void connect_port(LADSPA_Handle h, unsigned long port, LADSPA_Data *where) {
    ((Plugin *)h)->port[port] = where;
}

static void activate(LADSPA_Handle h) { ((Plugin *)h)->runs = 0; }

static void run_crash(LADSPA_Handle h, unsigned long n) {
    Plugin *p = h;
    if (p->runs >= (unsigned long)*p->port[BLOCKS]) {
        volatile int *volatile nowhere = NULL;
        *nowhere = 1;
    }
    for (unsigned long i = 0; i < n; i++) p->port[OUT][i] = p->port[IN][i];
    p->runs++;
}

static void run_drift(LADSPA_Handle h, unsigned long n) {
    Plugin *p = h;
    shared_counter++;
    for (unsigned long i = 0; i < n; i++)
        p->port[OUT][i] = p->port[IN][i] + 0.001f * (LADSPA_Data)(shared_counter % 100);
}

static void cleanup(LADSPA_Handle h) { free(h); }

static const LADSPA_PortDescriptor kinds[PORTS] = {
    LADSPA_PORT_INPUT | LADSPA_PORT_AUDIO,
    LADSPA_PORT_OUTPUT | LADSPA_PORT_AUDIO,
    LADSPA_PORT_INPUT | LADSPA_PORT_CONTROL,
};
static const char *const names[PORTS] = {"Input", "Output", "Blocks"};
#define BLOCKS_HINT(default_hint, most) \
    {{0, 0, 0}, {0, 0, 0}, \
     {LADSPA_HINT_BOUNDED_BELOW | LADSPA_HINT_BOUNDED_ABOVE | LADSPA_HINT_INTEGER \
          | (default_hint), 0, (most)}}
static const LADSPA_PortRangeHint hints[PORTS] = BLOCKS_HINT(LADSPA_HINT_DEFAULT_MIDDLE, 8);
static const LADSPA_PortRangeHint later[PORTS] = BLOCKS_HINT(LADSPA_HINT_DEFAULT_LOW, 4000);

#define COUNT 3
static const LADSPA_Descriptor plugins[COUNT] = {
    {990001, "crash", LADSPA_PROPERTY_HARD_RT_CAPABLE, "Crash after N blocks",
     "chronus tests", "None", PORTS, kinds, names, hints, NULL, instantiate, connect_port,
     activate, run_crash, NULL, NULL, NULL, cleanup},
    {990002, "drift", 0, "Drift (shared state)", "chronus tests", "None", PORTS, kinds,
     names, hints, NULL, instantiate, connect_port, activate, run_drift, NULL, NULL, NULL,
     cleanup},
    {990003, "crash_later", LADSPA_PROPERTY_HARD_RT_CAPABLE, "Crash after N blocks, later",
     "chronus tests", "None", PORTS, kinds, names, later, NULL, instantiate, connect_port,
     activate, run_crash, NULL, NULL, NULL, cleanup},
};

const LADSPA_Descriptor *ladspa_descriptor(unsigned long index) {
    return index < COUNT ? &plugins[index] : NULL;
}

#ifdef CRASH_ON_LOAD
/* Built with -DCRASH_ON_LOAD: the library crashes as soon as it is opened (a scan must
 * survive it). */
__attribute__((constructor)) static void crash_on_load(void) {
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
}
#endif

#ifdef HANG_ON_LOAD
/* Built with -DHANG_ON_LOAD: opening the library never returns. */
__attribute__((constructor)) static void hang_on_load(void) {
    for (volatile int forever = 1; forever;) {
    }
}
#endif
