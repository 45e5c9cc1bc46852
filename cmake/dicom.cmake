# DICOM tests (included by CMakeLists.txt): the reader over DCMTK (runtime/dicom/) on
# generated series, and `lumen qc` on DICOM folders. The series are written at test time by
# examples/make_dicom.py (Debian's python3 with numpy and pydicom) and DCMTK's encoders.
set(LUMEN_PYTHON /usr/bin/python3 CACHE FILEPATH "Debian's python3 (numpy, pydicom) for DICOM tests")
set(LUMEN_DICOM_TEST_ENV
  "LUMEN_CACHE_DIR=${CMAKE_BINARY_DIR}/test-cache;LUMEN_MODELS_DIR=${CMAKE_SOURCE_DIR}/models;CI=true")
add_executable(test_dicom tests/test_dicom.c)
target_link_libraries(test_dicom lumen)
add_test(NAME dicom_read COMMAND ${CMAKE_SOURCE_DIR}/tests/dicom_read.sh $<TARGET_FILE:test_dicom>
  ${LUMEN_PYTHON})
set_tests_properties(dicom_read PROPERTIES TIMEOUT 300)
# `lumen qc` on a folder of mixed DICOM (identity per frame, PHI policy, fake .dcm)
add_test(NAME cli_dicom COMMAND ${CMAKE_SOURCE_DIR}/tests/cli_dicom.sh $<TARGET_FILE:lumen_cli>
  ${LUMEN_PYTHON})
set_tests_properties(cli_dicom PROPERTIES TIMEOUT 600 ENVIRONMENT "${LUMEN_DICOM_TEST_ENV}")
# MONOCHROME1, 1024x1024 and compressed copies give the classes of the plain 512x512 series
add_test(NAME dicom_syntaxes COMMAND ${CMAKE_SOURCE_DIR}/tests/dicom_syntaxes.sh
  $<TARGET_FILE:lumen_cli> ${LUMEN_PYTHON})
set_tests_properties(dicom_syntaxes PROPERTIES TIMEOUT 600 ENVIRONMENT "${LUMEN_DICOM_TEST_ENV}")
# `lumen listen` behind Debian's Orthanc, started by the test on loopback ports
add_test(NAME orthanc_roundtrip COMMAND ${LUMEN_PYTHON} ${CMAKE_SOURCE_DIR}/tests/orthanc_roundtrip.py
  $<TARGET_FILE:lumen_cli>)
set_tests_properties(orthanc_roundtrip PROPERTIES TIMEOUT 600 ENVIRONMENT "${LUMEN_DICOM_TEST_ENV}")
