/* drv NET.inp OUT: EPANET hydraulics, SI results at report times.
   OUT: "U units nnodes nlinks duration rstart rstep", nnodes node IDs,
   nlinks link IDs, then per report time
   "T t", nnodes head lines, nlinks "flow status pump_state word" lines
   (word: the status word of tests/oracle/epanet_oracle.py, from EN_STATUS
   for pumps and from the raw EN_PUMP_STATE for other links);
   "W t code" warnings, "E t code" errors, "S t" last solved time,
   "N steps" the number of hydraulic steps solved. */
#include <stdio.h>
#include "epanet2_2.h"
static const double FLOW_M3S[] = {0.028316846592, 0.003785411784 / 60,
    3785.411784 / 86400, 4546.09 / 86400, 1233.48183754752 / 86400, 0.001,
    0.001 / 60, 1000.0 / 86400, 1.0 / 3600, 1.0 / 86400, 1.0};
int main(int argc, char **argv) {
    EN_Project ph;
    int rc, u, nn, nl, i, lt, steps = 0;
    static const char *WORD[] = {"CLOSED", "CLOSED", "CLOSED", "OPEN",
                                 "ACTIVE", "OPEN", "OPEN", "OPEN"};
    static const char *PUMP_WORD[] = {"CLOSED", "OPEN", "ACTIVE"};
    long t = 0, dt, dur, rstart, rstep;
    double v, s, r;
    char id[EN_MAXID + 1];
    if (argc != 3) { fprintf(stderr, "usage: drv NET.inp OUT\n"); return 2; }
    FILE *o = fopen(argv[2], "w");
    if (!o) return 2;
    EN_createproject(&ph);
    rc = EN_open(ph, argv[1], "/dev/null", "");
    if (rc > 100) { fprintf(o, "E open %d\nS 0\n", rc); fclose(o); return 0; }
    EN_getflowunits(ph, &u);
    double qf = FLOW_M3S[u] * 1000.0, lf = (u <= EN_AFD) ? 0.3048 : 1.0;
    EN_getcount(ph, EN_NODECOUNT, &nn);
    EN_getcount(ph, EN_LINKCOUNT, &nl);
    EN_gettimeparam(ph, EN_DURATION, &dur);
    EN_gettimeparam(ph, EN_REPORTSTART, &rstart);
    EN_gettimeparam(ph, EN_REPORTSTEP, &rstep);
    fprintf(o, "U %d %d %d %ld %ld %ld\n", u, nn, nl, dur, rstart, rstep);
    for (i = 1; i <= nn; i++) { EN_getnodeid(ph, i, id); fprintf(o, "%s\n", id); }
    for (i = 1; i <= nl; i++) { EN_getlinkid(ph, i, id); fprintf(o, "%s\n", id); }
    if ((rc = EN_openH(ph)) > 100 || (rc = EN_initH(ph, 0)) > 100) {
        fprintf(o, "E init %d\nS 0\n", rc);
        goto done;
    }
    for (;;) {
        rc = EN_runH(ph, &t);
        if (rc > 100) { fprintf(o, "E %ld %d\n", t, rc); break; }
        steps++;
        if (rc) fprintf(o, "W %ld %d\n", t, rc);
        if (t >= rstart && (t - rstart) % rstep == 0) {
            fprintf(o, "T %ld\n", t);
            for (i = 1; i <= nn; i++) {
                EN_getnodevalue(ph, i, EN_HEAD, &v);
                fprintf(o, "%.17g\n", v * lf);
            }
            for (i = 1; i <= nl; i++) {
                EN_getlinkvalue(ph, i, EN_FLOW, &v);
                EN_getlinkvalue(ph, i, EN_STATUS, &s);
                EN_getlinkvalue(ph, i, EN_PUMP_STATE, &r);
                EN_getlinktype(ph, i, &lt);
                fprintf(o, "%.17g %d %d %s\n", v * qf, (int)s, (int)r,
                        lt == EN_PUMP ? PUMP_WORD[(int)s] : WORD[(int)r]);
            }
        }
        rc = EN_nextH(ph, &dt);
        if (rc > 100) { fprintf(o, "E %ld %d\n", t, rc); break; }
        if (rc) fprintf(o, "W %ld %d\n", t, rc);
        if (dt <= 0) break;
    }
    fprintf(o, "S %ld\nN %d\n", t, steps);
    EN_closeH(ph);
done:
    EN_close(ph);
    EN_deleteproject(ph);
    fclose(o);
    return 0;
}
