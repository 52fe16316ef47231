# `make install` / `make uninstall` for the C library: libpgpool.so (with its SONAME
# link), include/pgpool.h and a pgpool.pc for pkg-config. Included by the root Makefile;
# also usable alone: make -f mk/install.mk install PREFIX=/opt/pgpool
#
#   PREFIX        /usr/local
#   LIBDIR        $(PREFIX)/lib         (e.g. $(PREFIX)/lib/x86_64-linux-gnu on Debian)
#   INCLUDEDIR    $(PREFIX)/include
#   PKGCONFIGDIR  $(LIBDIR)/pkgconfig
#   DESTDIR       staging root for packaging (not part of the installed paths)
#
# Afterwards: cc app.c $(pkg-config --cflags --libs pgpool). For a system prefix run
# ldconfig; for another one, add -Wl,-rpath,$(LIBDIR) or set LD_LIBRARY_PATH.
# Installing does not build: when target/release/libpgpool.so is missing it is built
# first (`cargo build --release`), otherwise the library already built is installed.

PGPOOL_ROOT    := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
PREFIX         ?= /usr/local
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
DESTDIR        ?=
INSTALL        ?= install
CARGO          ?= cargo
PGPOOL_VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' $(PGPOOL_ROOT)/Cargo.toml | head -n1)
PGPOOL_SOMAJOR := $(firstword $(subst ., ,$(PGPOOL_VERSION)))
PGPOOL_SO      := $(PGPOOL_ROOT)/target/release/libpgpool.so

.PHONY: install uninstall install-c uninstall-c

install: install-c
uninstall: uninstall-c

$(PGPOOL_SO):
	cd $(PGPOOL_ROOT) && $(CARGO) build --release -p pgpool --lib

install-c: $(PGPOOL_SO)
	@test -n "$(PGPOOL_VERSION)" || { echo "install: no version in Cargo.toml" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 755 $(PGPOOL_SO) $(DESTDIR)$(LIBDIR)/libpgpool.so.$(PGPOOL_VERSION)
	ln -sf libpgpool.so.$(PGPOOL_VERSION) $(DESTDIR)$(LIBDIR)/libpgpool.so.$(PGPOOL_SOMAJOR)
	ln -sf libpgpool.so.$(PGPOOL_SOMAJOR) $(DESTDIR)$(LIBDIR)/libpgpool.so
	$(INSTALL) -m 644 $(PGPOOL_ROOT)/include/pgpool.h $(DESTDIR)$(INCLUDEDIR)/pgpool.h
	printf '%s\n' \
	    'prefix=$(PREFIX)' \
	    'libdir=$(LIBDIR)' \
	    'includedir=$(INCLUDEDIR)' \
	    '' \
	    'Name: pgpool' \
	    'Description: PostgreSQL connection pool (the C API of libpgpool)' \
	    'Version: $(PGPOOL_VERSION)' \
	    'Libs: -L$${libdir} -lpgpool' \
	    'Cflags: -I$${includedir}' \
	    >$(DESTDIR)$(PKGCONFIGDIR)/pgpool.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/pgpool.pc

uninstall-c:
	rm -f $(DESTDIR)$(LIBDIR)/libpgpool.so.$(PGPOOL_VERSION) \
	      $(DESTDIR)$(LIBDIR)/libpgpool.so.$(PGPOOL_SOMAJOR) \
	      $(DESTDIR)$(LIBDIR)/libpgpool.so \
	      $(DESTDIR)$(INCLUDEDIR)/pgpool.h \
	      $(DESTDIR)$(PKGCONFIGDIR)/pgpool.pc
