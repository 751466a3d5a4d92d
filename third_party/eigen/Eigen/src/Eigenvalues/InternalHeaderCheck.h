#ifndef EIGEN_EIGENVALUES_MODULE_H
#error "Please include Eigen/Eigenvalues instead of including headers inside the src directory directly."
#endif
