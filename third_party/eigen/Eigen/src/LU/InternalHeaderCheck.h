#ifndef EIGEN_LU_MODULE_H
#error "Please include Eigen/LU instead of including headers inside the src directory directly."
#endif
