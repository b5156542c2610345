/* The sample project of sealbuild's demo: built inside the attested VM,
 * its output is what the DSSE-signed provenance describes. */
#include <stdio.h>

int main(void) {
    puts("hello from a sealed build");
    return 0;
}
