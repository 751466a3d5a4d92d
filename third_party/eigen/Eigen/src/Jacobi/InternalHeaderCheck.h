#ifndef EIGEN_JACOBI_MODULE_H
#error "Please include Eigen/Jacobi instead of including headers inside the src directory directly."
#endif
