/* Linked into binaries built with `chainc build --sanitize` only: the default
 * options of AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer,
 * so the binary behaves the same however it is started. ASAN_OPTIONS,
 * UBSAN_OPTIONS and LSAN_OPTIONS in the environment still override them.
 * docs/sanitizers.md explains each choice. */

/* The first report ends the run with exit code 70 (EX_SOFTWARE): a test or a
 * CI job sees a failure, never a warning scrolled past. */
const char *__asan_default_options(void)
{
    return "halt_on_error=1:abort_on_error=0:exitcode=70:detect_leaks=1"
           ":handle_abort=1:print_summary=1:color=never";
}

const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1:exitcode=70:color=never";
}

const char *__lsan_default_options(void)
{
    return "exitcode=70:print_suppressions=0";
}

/* The embedded Python interpreter keeps objects until the process exits (it
 * is not built with ASan and frees little at finalisation): its allocator's
 * blocks are not leaks of the chain. Anything the chain or an NF allocates
 * with malloc and loses is still reported. */
const char *__lsan_default_suppressions(void)
{
    return "leak:_PyObject_Malloc\n"
           "leak:_PyMem_RawMalloc\n"
           "leak:_PyMem_RawRealloc\n"
           "leak:_PyObject_Realloc\n";
}
