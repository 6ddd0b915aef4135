# The Debian package of the service, built by CPack (scripts/package runs
# `cpack -G DEB` in build/release). What it installs:
#
#   /usr/bin/incident-ledger                       the binary (stripped)
#   /lib/systemd/system/incident-ledger.service    the hardened unit
#   /etc/incident-ledger/incident-ledger.conf      serve's options (a conffile)
#   /usr/share/doc/incident-ledger/                README, ARCHITECTURE, AUDIT
#
# The maintainer scripts (packaging/debian/) make the system user
# `incident-ledger`, enable and start the unit where systemd runs, and stop it
# on removal; the data in /var/lib/incident-ledger (the unit's StateDirectory)
# is kept on removal and on purge. Runtime dependencies come from
# dpkg-shlibdeps.

install(TARGETS incident-ledger RUNTIME DESTINATION usr/bin COMPONENT service)
install(FILES packaging/incident-ledger.service DESTINATION lib/systemd/system COMPONENT service)
install(FILES packaging/incident-ledger.conf DESTINATION etc/incident-ledger COMPONENT service)
install(FILES README.md docs/ARCHITECTURE.md docs/AUDIT.md packaging/README.md
        DESTINATION usr/share/doc/incident-ledger COMPONENT service)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME incident-ledger)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "incident-ledger maintainers")
set(CPACK_PACKAGE_CONTACT "incident-ledger maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "event-sourced incident ledger: outage records, dashboard, API and notifications")
set(CPACK_PACKAGING_INSTALL_PREFIX "/")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# procps: the unit reloads with /bin/kill.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, procps")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/packaging/debian/conffiles;${CMAKE_SOURCE_DIR}/packaging/debian/postinst;${CMAKE_SOURCE_DIR}/packaging/debian/prerm;${CMAKE_SOURCE_DIR}/packaging/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
